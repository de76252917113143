package zoo

import (
	"bytes"
	"crypto/ed25519"
	_ "embed"
	"fmt"

	"github.com/gorobust/gorobust/robust/nn"
)

// The embedded files. They are never written to: every load reads them
// through a bytes.Reader.
var (
	//go:embed release.pub
	releasePub []byte
	//go:embed mnist-standard.safetensors
	mnistStandard []byte
	//go:embed mnist-robust.safetensors
	mnistRobust []byte
)

// PublicKey returns a copy of the public half of the release key, which
// signed every model of this package. It is the key of the PEM file
// robust/zoo/release.pub. PublicKey panics only if that embedded file is
// not an Ed25519 public key, which a test of this package rules out for
// every build that passes it.
func PublicKey() ed25519.PublicKey {
	pub, err := nn.ReadPublicKey(bytes.NewReader(releasePub))
	if err != nil {
		panic(fmt.Sprintf("zoo: embedded release.pub: %v", err))
	}
	return pub
}

// MNISTStandard returns a fresh copy of the reference CNN (nn.ReferenceCNN,
// float32, inputs 1 x 28 x 28 in [0, 1], 10 logits) trained without any
// defense: 5 epochs of Adam (learning rate 1e-3, batch 100, seed 1) on the
// 60,000 MNIST training images. Its weights were trained at commit 436150c
// by
//
//	go run ./internal/mnistmodels/gen -dir internal/mnistmodels
//
// a program that is now robust/zoo/gen with the same training settings
// (go run ./robust/zoo/gen -out mnist-standard.safetensors); the file was
// then signed with
//
//	go run ./examples/signmodel sign -key release.key -model standard.safetensors -out robust/zoo/mnist-standard.safetensors
//
// The training code has changed the order of floating-point sums since, so
// running the program today trains the same recipe to other weights of
// about the same accuracy (docs/models.md).
//
// Like every undefended MNIST model it is accurate on clean images and has
// almost no robustness at Linf eps 0.3; use it as the target that attacks
// must break and defenses must protect.
func MNISTStandard() (*nn.Model, error) {
	return load("mnist-standard.safetensors", mnistStandard)
}

// MNISTRobust returns a fresh copy of the reference CNN (nn.ReferenceCNN,
// float32, inputs 1 x 28 x 28 in [0, 1], 10 logits) adversarially trained
// with FGSM with a random start at Linf eps 0.3 in the setting of Wong,
// Rice and Kolter (2020), "Fast is better than free: Revisiting adversarial
// training" (https://arxiv.org/abs/2001.03994): step 0.375, 10 epochs,
// Adam with a cyclic learning rate peaking at 5e-3, batch 100, no early
// stopping, seed 11, as the command
//
//	go run ./examples/mnist -early-stop=false -seed 11 -workers 1 -eval 0 -out mnist-robust.safetensors
//
// does, signed with
//
//	go run ./examples/signmodel sign -key release.key -model mnist-robust.safetensors -out robust/zoo/mnist-robust.safetensors
//
// Training is deterministic for a seed and a -workers count, so the command
// rewrites these weights bit for bit (the digest, __metadata__.sha256, is in
// docs/models.md) as long as the training code keeps its order of
// floating-point sums.
//
// It is meant to be robust at Linf eps up to 0.3 on MNIST. Its robustness
// was measured with white-box PGD only (docs/models.md), which bounds it
// from above: evaluate it with the attacks that matter to you.
func MNISTRobust() (*nn.Model, error) {
	return load("mnist-robust.safetensors", mnistRobust)
}

// load verifies and decodes one embedded file.
func load(name string, file []byte) (*nn.Model, error) {
	m, err := nn.Load(bytes.NewReader(file), &nn.LoadOptions{PublicKey: PublicKey()})
	if err != nil {
		return nil, fmt.Errorf("zoo: %s: %w", name, err)
	}
	return m, nil
}
