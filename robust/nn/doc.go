// Package nn builds image classifiers from a declarative Spec, trains them
// and saves and loads them in safe, optionally signed files.
//
// A Model built with New from a Spec implements robust.Differentiable. Its
// parameters are named and laid out as in a PyTorch nn.Sequential with the
// same layers (see Param), which is what makes Import possible.
//
// # Specs, inputs and errors
//
// Zero layer fields take the documented defaults PyTorch uses: a Conv2D
// Stride of 0 is 1, a pooling Stride of 0 is its Kernel. New resolves them,
// so Model.Spec and saved files state every value explicitly.
//
// Logits and TrainStep take float32 N x C x H x W inputs whose values are
// finite and inside the Spec's Bounds, as attacks require: anything else is
// an error wrapping robust.ErrShape, robust.ErrNonFinite or
// robust.ErrBounds, never logits of meaningless inputs (0..255 pixels for a
// model of [0, 1] ones). LossGrad and LogitsVJP accept values up to one
// bounds width outside Bounds, where attacks take gradients (FGSMRS at its
// unclipped random start), and reject the rest the same way.
//
// Errors have one shape: what was wrong, with the field as users write it
// and its value, then the sentinel they wrap, as in
// "nn: Spec.Layers[2] (Conv2D): Stride = -1, want [0, 32] (0 means 1): nn:
// invalid spec". Test for the sentinels with errors.Is.
//
// # Model files
//
// Save, SaveFile, Load and LoadFile use the safetensors layout, so a saved
// model opens with a few lines of numpy or with tools that read
// safetensors:
//
//   - bytes 0 to 8: N, the header length, a little-endian uint64; N is a
//     multiple of 8;
//   - the next N bytes: the header, a JSON object padded with spaces;
//   - the rest of the file: the data section, every tensor's values
//     little-endian and row-major, in parameter order, without gaps, to the
//     end of the file.
//
// The header maps each parameter name to its dtype ("F32", or "F64" for a
// Float64 model), shape and data_offsets [begin, end), byte offsets into
// the data section; its "__metadata__" entry maps strings to strings:
//
//   - "format": "gorobust/1" (Format);
//   - "spec": the architecture, the JSON of the Spec (see Spec.MarshalJSON);
//   - "sha256": the digest, in lowercase hex;
//   - "signature": optional, the Ed25519 signature in standard base64 with
//     padding.
//
// Load accepts no other metadata key. The header is written in a canonical
// form, C(h): JSON with keys sorted at every level, no white space, only
// ASCII, as Python writes it with json.dumps(h, sort_keys=True,
// separators=(",", ":")); then padded with the fewest spaces that make its
// length a multiple of 8. A tensor entry reads
// {"data_offsets":[0,1024],"dtype":"F32","shape":[16,1,4,4]}. Load
// requires the header bytes to be exactly that encoding of what they
// parse to, so no two files parse to the same model and header.
//
// The digest is SHA-256 of C(h without "sha256" and "signature" in its
// metadata) followed by the data section: it covers the architecture and
// every weight, so any change to the file fails Load. The signature signs
// SignaturePrefix ("gorobust/1 model signature\n") followed by C(h without
// "signature"), which includes the digest. The digest detects accidents;
// only the signature, checked against a public key obtained by other means,
// detects a deliberate change.
//
// This numpy snippet reads a file and checks its digest:
//
//	import hashlib, json
//	import numpy as np
//
//	with open("model.safetensors", "rb") as f:
//	    buf = f.read()
//	n = int.from_bytes(buf[:8], "little")
//	header = json.loads(buf[8:8 + n])
//	data = buf[8 + n:]
//	meta = header.pop("__metadata__")
//	unsigned = {k: v for k, v in meta.items() if k not in ("sha256", "signature")}
//	canon = json.dumps({**header, "__metadata__": unsigned}, sort_keys=True, separators=(",", ":"))
//	assert hashlib.sha256(canon.encode() + data).hexdigest() == meta["sha256"]
//	spec = json.loads(meta["spec"])
//	dtypes = {"F32": "<f4", "F64": "<f8"}
//	weights = {}
//	for name, t in header.items():
//	    begin, end = t["data_offsets"]
//	    weights[name] = np.frombuffer(data[begin:end], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
//
// and this one, with the cryptography package, the signature:
//
//	import base64
//	from cryptography.hazmat.primitives.serialization import load_pem_public_key
//
//	signed = {k: v for k, v in meta.items() if k != "signature"}
//	msg = b"gorobust/1 model signature\n" + json.dumps({**header, "__metadata__": signed}, sort_keys=True, separators=(",", ":")).encode()
//	with open("model.pub", "rb") as f:
//	    load_pem_public_key(f.read()).verify(base64.b64decode(meta["signature"]), msg)
//
// # Loading untrusted files
//
// Load never executes or reflects anything from a file: the metadata are
// strings, the architecture is parsed by ParseSpec (which enforces hard
// limits: 64 layers, 2^26 parameters, sides up to 1024, kernels up to 32)
// and the model is built only from that validated Spec. Its budget is
// checked before anything is allocated for it: a Spec that needs more
// than Options.MaxMACs multiply-adds or Options.MaxExampleBytes bytes of
// buffers per example is refused with ErrTooLarge, whose message states
// both figures. The header is checked in full (canonical form, tensors,
// total size against MaxBytes, signature) before the data section is
// read.
//
// Memory: the data section streams through a 64 KiB buffer straight into
// the model's parameters, so Load's peak is about the model's own size
// (the file's data section, or twice it for an F32 file loaded as
// Float64) plus the header, never a second copy. Nothing read from a file
// makes Load allocate beyond LoadOptions.MaxBytes (twice it for the
// Float64 case). When r tells its remaining length (a Len method, as
// *bytes.Reader has; LoadFile's reader does), a data section shorter or
// longer than the header announces is refused before the model is
// allocated; from a plain stream, Load allocates the announced model and
// then finds the stream short. The digest is checked after the whole
// section is read, and the model is returned only if it matches.
//
// Each failure is an error that names the field and wraps one of
// ErrFormat, ErrTooLarge, ErrSpec, ErrDigest, ErrSignature or
// robust.ErrNonFinite. To accept only models from a known author, set
// LoadOptions.PublicKey: a file must then carry a signature that verifies
// with it (AllowUnsigned is the explicit opt-out).
//
// Keys are Ed25519 (crypto/ed25519.GenerateKey). Public keys are stored as PEM "PUBLIC
// KEY" blocks (PKIX), private keys as unencrypted PEM "PRIVATE KEY" blocks
// (PKCS #8), the formats OpenSSL uses: `openssl genpkey -algorithm ed25519
// -out model.key` and `openssl pkey -in model.key -pubout -out model.pub`
// make keys ReadPrivateKey and ReadPublicKey accept.
//
// # Importing PyTorch models
//
// Import reads a plain safetensors file into a model of a given Spec. For a
// PyTorch nn.Sequential, write the Spec with the same layers at the same
// indices, and save the state_dict:
//
//	model = nn.Sequential(
//	    nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
//	    nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
//	    nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10))
//	# ... train ...
//	safetensors.torch.save_file(model.state_dict(), "mnist.safetensors")
//
// then, in Go, Import(ReferenceCNN(), f, nil). The layers map as follows;
// layers without parameters still take an index:
//
//	PyTorch                                Spec layer                    tensors
//	nn.Conv2d(in, out, k, stride=s,        Conv2D{Out: out, Kernel: k,   "<i>.weight" [out, in, k, k],
//	          padding=p)                   Stride: s, Pad: p}            "<i>.bias" [out]
//	nn.Linear(in, out)                     Dense{Out: out}               "<i>.weight" [out, in], "<i>.bias" [out]
//	nn.ReLU()                              ReLU{}                        none
//	nn.Flatten()                           Flatten{}                     none
//	nn.MaxPool2d(k, s), nn.AvgPool2d(k, s) MaxPool2D, AvgPool2D          none
//	nn.Dropout(p)                          Dropout{P: p}                 none
//
// Conv2d layers must have a bias, a square kernel, zero padding, dilation 1
// and groups 1; pooling layers no padding. PyTorch's default strides are the
// zero values' defaults: Conv2D{Out: out, Kernel: k} is nn.Conv2d(in, out,
// k), MaxPool2D{Kernel: k} is nn.MaxPool2d(k). A normalisation done in the data
// pipeline goes into a Normalize layer at the start of the Spec; its index
// then shifts every later one, which ImportOptions.Rename undoes, as
// ImportOptions.Prefix handles a Sequential held in a module's attribute.
// Tensors may be F32, F64, F16 or BF16; they are converted to the model's
// precision. The file must hold exactly the Spec's parameters: buffers and
// other extra tensors are errors.
//
// # Concurrency
//
// Model methods are safe for concurrent use; Update excludes the others
// while it runs. Save reads the parameters once, under the model's lock, so
// it may run while the model serves other calls. Load, Import and the key
// functions keep no state and may be called concurrently.
package nn
