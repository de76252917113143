// Package zoo ships trained models, so that programs, examples and tests
// can load a real model in one line:
//
//	m, err := zoo.MNISTRobust()
//
// # Models
//
// MNISTStandard and MNISTRobust are the reference CNN (nn.ReferenceCNN)
// trained on the 60,000 MNIST training images of robust/data/mnist, without
// a defense and with FGSM adversarial training. Each function's
// documentation names the exact commands that produced its file; the
// accuracies those files measure, and the commands that measure them, are in
// docs/models.md of the repository.
//
// # Integrity
//
// The models are embedded in the package as gorobust model files (the
// format of robust/nn: safetensors layout, SHA-256 digest and Ed25519
// signature in the metadata), signed by the project's release key. Every
// call loads its file with nn.Load, requiring a signature that PublicKey
// verifies, so a damaged or altered file is an error (wrapping
// nn.ErrDigest or nn.ErrSignature), never a silently different model. The
// private half of the release key is not in the repository; a release
// signed with a new key comes with a new public key here, and files signed
// with an older key no longer load.
//
// PublicKey also verifies the files outside Go:
//
//	go run ./examples/signmodel verify -pub robust/zoo/release.pub robust/zoo/mnist-robust.safetensors
//
// # Copies and concurrency
//
// Each call returns a fresh *nn.Model that shares nothing with the package
// or with models returned by other calls: it may be trained or changed
// freely. The functions are safe for concurrent use. Each call decodes and
// verifies about 670 KB; keep the model rather than calling again per
// batch.
package zoo
