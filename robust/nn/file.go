package nn

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/robust"
)

// SaveOptions configure Save and SaveFile. A nil *SaveOptions means the
// defaults.
type SaveOptions struct {
	// PrivateKey signs the file when it is not nil; nil writes an unsigned
	// file.
	PrivateKey ed25519.PrivateKey
}

// LoadOptions configure Load and LoadFile. A nil *LoadOptions means the
// defaults: no signature check and the default size limits.
type LoadOptions struct {
	// Options configure the loaded model as they configure New, except
	// that Seed is unused (the weights come from the file) and that a file
	// of F64 tensors always gives a Float64 model; Float64 makes an F32
	// file load as a Float64 model too.
	Options
	// PublicKey, when not nil, must verify the file's signature, and a file
	// without a signature is refused with ErrSignature (unless
	// AllowUnsigned is set). When nil, no signature is checked.
	PublicKey ed25519.PublicKey
	// AllowUnsigned loads a file without a signature even though PublicKey
	// is set; a file that has one must still verify. It is the explicit
	// opt-out for a mix of signed and unsigned files, and needs a
	// PublicKey.
	AllowUnsigned bool
	// MaxBytes bounds the whole file. If 0, DefaultMaxBytes is used.
	MaxBytes int64
	// MaxHeaderBytes bounds the JSON header. If 0, DefaultMaxHeaderBytes is
	// used.
	MaxHeaderBytes int64
}

func (o *LoadOptions) resolve() (LoadOptions, limits, error) {
	var out LoadOptions
	if o != nil {
		out = *o
	}
	lim, err := newLimits(out.MaxBytes, out.MaxHeaderBytes, "LoadOptions")
	if err != nil {
		return out, lim, err
	}
	if err := out.check("LoadOptions"); err != nil {
		return out, lim, err
	}
	if out.PublicKey != nil && len(out.PublicKey) != ed25519.PublicKeySize {
		return out, lim, errorf(robust.ErrConfig, "LoadOptions.PublicKey has %d bytes, want %d (an Ed25519 public key)", len(out.PublicKey), ed25519.PublicKeySize)
	}
	if out.AllowUnsigned && out.PublicKey == nil {
		return out, lim, errorf(robust.ErrConfig, "LoadOptions.AllowUnsigned = true without a PublicKey, want a PublicKey (without one, no signature is checked)")
	}
	return out, lim, nil
}

// Save writes m in the format described in the package documentation,
// signed when opts.PrivateKey is set. Its output depends only on the
// model's Spec, parameters and precision and on the key: saving the same
// model twice gives the same bytes.
func Save(w io.Writer, m *Model, opts *SaveOptions) error {
	if m == nil {
		return errorf(robust.ErrConfig, "Save: nil model")
	}
	var o SaveOptions
	if opts != nil {
		o = *opts
	}
	if o.PrivateKey != nil {
		if len(o.PrivateKey) != ed25519.PrivateKeySize {
			return errorf(robust.ErrConfig, "SaveOptions.PrivateKey has %d bytes, want %d (an Ed25519 private key)", len(o.PrivateKey), ed25519.PrivateKeySize)
		}
		if !ed25519.NewKeyFromSeed(o.PrivateKey.Seed()).Equal(o.PrivateKey) {
			return errorf(robust.ErrConfig, "SaveOptions.PrivateKey: public half does not match the seed, want a key from ed25519.GenerateKey or ReadPrivateKey")
		}
	}
	spec, err := json.Marshal(m.Spec())
	if err != nil {
		return err
	}
	dt := dtypeF32
	if m.Float64() {
		dt = dtypeF64
	}
	ps := m.Params()
	entries := make([]entry, len(ps))
	var off int64
	for i, p := range ps {
		n := int64(p.Value.Size()) * int64(dtypeSize(dt))
		entries[i] = entry{Name: p.Name, Dtype: dt, Shape: p.Shape, Begin: off, End: off + n}
		off += n
	}
	meta := map[string]string{metaFormat: Format, metaSpec: string(spec)}
	digest, err := hexDigest(digestHeader(entries, meta), func(w io.Writer) error { return writeParams(w, ps, dt) })
	if err != nil {
		return err
	}
	meta[metaSHA256] = digest
	if o.PrivateKey != nil {
		meta[metaSignature] = base64.StdEncoding.EncodeToString(sign(o.PrivateKey, entries, meta))
	}
	h := padHeader(canonicalHeader(entries, meta))
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(h)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	return writeParams(w, ps, dt)
}

// Load reads a model written by Save. It validates the whole file before it
// builds the model, in this order: the header length against the limits,
// the header JSON (strictly: duplicate keys, unknown fields and unknown
// metadata keys are errors), the format version, the Spec (ParseSpec; its
// JSON must also be exactly what json.Marshal writes for it), every
// tensor against the parameters the Spec needs (names, dtype, shape,
// offsets), the total size against MaxBytes, that the header is in the
// canonical form Save writes, the signature, then the data section's length
// and the digest, and finally that every value is finite. The model is
// built only from the validated Spec. Errors wrap ErrFormat, ErrTooLarge,
// ErrSpec, ErrSignature, ErrDigest, robust.ErrNonFinite or robust.ErrConfig.
//
// A Float64 model is written as F64 and loads as a Float64 model; a model
// without parameters always loads in float32. Load reads r to its end.
func Load(r io.Reader, opts *LoadOptions) (*Model, error) {
	o, lim, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	hb, err := readHeader(r, lim)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	spec, params, cost, err := checkMetadata(h)
	if err != nil {
		return nil, err
	}
	// The first parameter's dtype sets the model's precision; the others
	// must match it.
	dt := dtypeF32
	if len(params) > 0 {
		if e, ok := h.Tensors[params[0].Name]; ok && e.Dtype == dtypeF64 {
			dt = dtypeF64
		}
	}
	allowed := func(d string) error {
		if d != dtypeF32 && d != dtypeF64 {
			return fmt.Errorf("want %s or %s", dtypeF32, dtypeF64)
		}
		if d != dt {
			return fmt.Errorf("want %s like tensor %q", dt, params[0].Name)
		}
		return nil
	}
	if err := o.checkCost(cost, dt == dtypeF64 || o.Float64, "LoadOptions"); err != nil {
		return nil, err
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	lay, err := matchParams(h, params, names, allowed, true)
	if err != nil {
		return nil, err
	}
	if total := 8 + int64(len(hb)) + lay.dataSize; total > lim.maxBytes {
		return nil, errorf(ErrTooLarge, "file needs %d bytes, want at most LoadOptions.MaxBytes = %d", total, lim.maxBytes)
	}
	if want := padHeader(canonicalHeader(lay.entries, h.Metadata)); !bytes.Equal(hb, want) {
		i := 0
		for i < len(hb) && i < len(want) && hb[i] == want[i] {
			i++
		}
		return nil, formatErr("header differs from its canonical encoding at byte %d of %d", i, len(hb))
	}
	if err := checkSignature(o, lay.entries, h.Metadata); err != nil {
		return nil, err
	}
	if err := checkLen(r, lay.dataSize); err != nil {
		return nil, err
	}
	mo := o.Options
	mo.Float64 = dt == dtypeF64 || o.Float64
	m, err := newModel(spec, &mo, false)
	if err != nil {
		return nil, err
	}
	var nonFinite error
	digest, err := hexDigest(digestHeader(lay.entries, h.Metadata), func(w io.Writer) error {
		nonFinite, err = readParams(r, m, lay, w)
		return err
	})
	if err != nil {
		return nil, err
	}
	if got := h.Metadata[metaSHA256]; got != digest {
		return nil, errorf(ErrDigest, "__metadata__.sha256 = %s, want %s, the digest of the header and data", got, digest)
	}
	if nonFinite != nil {
		return nil, nonFinite
	}
	return m, nil
}

// checkMetadata checks the metadata of a file written by Save and returns
// its validated Spec and the parameters that Spec needs.
func checkMetadata(h header) (Spec, []engine.ParamInfo, engine.Cost, error) {
	meta := h.Metadata
	if meta == nil {
		return Spec{}, nil, engine.Cost{}, formatErr("missing %s: not a %s file (use Import for plain safetensors files)", metadataKey, Format)
	}
	for k := range meta {
		switch k {
		case metaFormat, metaSpec, metaSHA256, metaSignature:
		default:
			return Spec{}, nil, engine.Cost{}, formatErr("unknown key %s.%q", metadataKey, k)
		}
	}
	for _, k := range []string{metaFormat, metaSpec, metaSHA256} {
		if _, ok := meta[k]; !ok {
			return Spec{}, nil, engine.Cost{}, formatErr("missing %s.%s", metadataKey, k)
		}
	}
	if f := meta[metaFormat]; f != Format {
		return Spec{}, nil, engine.Cost{}, formatErr("%s.format is %q, want %q", metadataKey, f, Format)
	}
	if d := meta[metaSHA256]; len(d) != 64 || !isLowerHex(d) {
		return Spec{}, nil, engine.Cost{}, formatErr("%s.sha256 %q is not 64 lowercase hex digits", metadataKey, d)
	}
	if s, ok := meta[metaSignature]; ok {
		if _, err := decodeSignature(s); err != nil {
			return Spec{}, nil, engine.Cost{}, err
		}
	}
	spec, err := ParseSpec([]byte(meta[metaSpec]))
	if err != nil {
		return Spec{}, nil, engine.Cost{}, fmt.Errorf("%w (in %s.spec)", err, metadataKey)
	}
	// Only the encoding Save writes is accepted, so that every file Load
	// accepts is byte for byte what Save writes for the model it returns.
	// Save writes the Spec with its defaults resolved (see
	// Spec.withDefaults), so a zero stride in a file is not canonical.
	if canon, err := json.Marshal(spec.withDefaults()); err != nil || string(canon) != meta[metaSpec] {
		return Spec{}, nil, engine.Cost{}, formatErr("%s.spec is not in the canonical form Save writes (json.Marshal of the Spec, every default stated)", metadataKey)
	}
	_, params, cost, err := spec.infer()
	if err != nil {
		return Spec{}, nil, engine.Cost{}, err
	}
	return spec, params, cost, nil
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// decodeSignature decodes a signature: standard base64 with padding and
// zero trailing bits (so that one signature has one encoding) of 64 bytes.
func decodeSignature(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, errorf(ErrSignature, "%s.signature is not standard base64 of %d bytes", metadataKey, ed25519.SignatureSize)
	}
	return sig, nil
}

// checkSignature verifies the signature with o.PublicKey, when there is a
// key; a file without a signature then fails unless o.AllowUnsigned.
func checkSignature(o LoadOptions, entries []entry, meta map[string]string) error {
	if o.PublicKey == nil {
		return nil
	}
	s, ok := meta[metaSignature]
	if !ok {
		if o.AllowUnsigned {
			return nil
		}
		return errorf(ErrSignature, "missing %s.signature, and LoadOptions.PublicKey is set (set AllowUnsigned to load unsigned files)", metadataKey)
	}
	sig, err := decodeSignature(s)
	if err != nil {
		return err
	}
	if !ed25519.Verify(o.PublicKey, signedMessage(entries, meta), sig) {
		return errorf(ErrSignature, "%s.signature does not verify with the public key", metadataKey)
	}
	return nil
}
