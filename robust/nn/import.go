package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/gorobust/gorobust/robust"
)

// ImportOptions configure Import. A nil *ImportOptions means the defaults.
type ImportOptions struct {
	// Options configure the model as they configure New, except that Seed
	// is unused (the weights come from the file): with Float64 the model
	// computes in float64, otherwise in float32, whatever the file's
	// dtypes.
	Options
	// Prefix is prepended to every parameter name to get the tensor name in
	// the file: "model." for a state_dict of a module that holds the
	// nn.Sequential as its attribute "model". If "", names are used as they
	// are.
	Prefix string
	// Rename, when not nil, maps a parameter name ("5.weight") to the name
	// the tensor has in the file, before Prefix is prepended: for a PyTorch
	// model whose layer indices differ from the Spec's. It must map distinct
	// names to distinct names.
	Rename func(param string) string
	// SHA256, when not nil, must be the SHA-256 of the whole file (as model
	// hubs publish it); a file with another digest is rejected with
	// ErrDigest. If nil, no digest is checked.
	SHA256 []byte
	// MaxBytes bounds the whole file. If 0, DefaultMaxBytes is used.
	MaxBytes int64
	// MaxHeaderBytes bounds the JSON header. If 0, DefaultMaxHeaderBytes is
	// used.
	MaxHeaderBytes int64
}

// Import reads a plain safetensors file, as other frameworks write it, into
// a model of the given Spec. The file must hold exactly the Spec's
// parameters, named Prefix + "<layer index>.weight" and "<layer
// index>.bias" (or Prefix + Rename(name)) with PyTorch's shapes (see the package documentation), in
// any order within the data section, in dtype F32, F64, F16 or BF16 (each
// tensor may differ); values are converted to the model's precision by
// rounding to nearest and must be finite afterwards. The metadata, if any,
// must map strings to strings and is otherwise ignored: Import neither
// needs nor checks a gorobust digest or signature (use Load for files
// written by Save). Validation is as strict as Load's in everything else,
// and happens before the model is built; errors wrap the same sentinels.
func Import(spec Spec, r io.Reader, opts *ImportOptions) (*Model, error) {
	var o ImportOptions
	if opts != nil {
		o = *opts
	}
	lim, err := newLimits(o.MaxBytes, o.MaxHeaderBytes, "ImportOptions")
	if err != nil {
		return nil, err
	}
	if err := o.check("ImportOptions"); err != nil {
		return nil, err
	}
	if o.SHA256 != nil && len(o.SHA256) != sha256.Size {
		return nil, errorf(robust.ErrConfig, "ImportOptions.SHA256 has %d bytes, want %d (a SHA-256 digest)", len(o.SHA256), sha256.Size)
	}
	_, params, cost, err := spec.infer()
	if err != nil {
		return nil, err
	}
	if err := o.checkCost(cost, o.Float64, "ImportOptions"); err != nil {
		return nil, err
	}
	names := make([]string, len(params))
	owner := make(map[string]string, len(params))
	for i, p := range params {
		n := p.Name
		if o.Rename != nil {
			n = o.Rename(n)
		}
		names[i] = o.Prefix + n
		if q, dup := owner[names[i]]; dup {
			return nil, errorf(robust.ErrConfig, "ImportOptions.Rename maps both %q and %q to tensor %q", q, p.Name, names[i])
		}
		owner[names[i]] = p.Name
	}
	src := r
	hash := sha256.New()
	if o.SHA256 != nil {
		r = io.TeeReader(r, hash)
	}
	hb, err := readHeader(r, lim)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	allowed := func(d string) error {
		if dtypeSize(d) == 0 {
			return fmt.Errorf("want %s, %s, %s or %s", dtypeF32, dtypeF64, dtypeF16, dtypeBF16)
		}
		return nil
	}
	if hint := prefixHint(h, names, len(o.Prefix)); hint != "" {
		return nil, formatErr("%s", hint)
	}
	lay, err := matchParams(h, params, names, allowed, false)
	if err != nil {
		return nil, err
	}
	if total := 8 + int64(len(hb)) + lay.dataSize; total > lim.maxBytes {
		return nil, errorf(ErrTooLarge, "file needs %d bytes, want at most ImportOptions.MaxBytes = %d", total, lim.maxBytes)
	}
	if err := checkLen(src, lay.dataSize); err != nil {
		return nil, err
	}
	m, err := newModel(spec, &o.Options, false)
	if err != nil {
		return nil, err
	}
	nonFinite, err := readParams(r, m, lay, nil)
	if err != nil {
		return nil, err
	}
	if o.SHA256 != nil {
		if got := hash.Sum(nil); string(got) != string(o.SHA256) {
			return nil, errorf(ErrDigest, "ImportOptions.SHA256 = %s, want %s, the digest of the file", hex.EncodeToString(o.SHA256), hex.EncodeToString(got))
		}
	}
	if nonFinite != nil {
		return nil, nonFinite
	}
	return m, nil
}

// prefixHint explains a file whose tensor names differ from names (the
// prefixed names Import looks for; the prefix is their first n bytes) by
// a prefix only: it returns the ImportOptions.Prefix that makes every name
// match, or, when every tensor name shares a dotted prefix that does not,
// that prefix; "" when a name matches or no prefix explains the file.
func prefixHint(h header, names []string, n int) string {
	if len(names) == 0 {
		return ""
	}
	for _, name := range names {
		if _, ok := h.Tensors[name]; ok {
			return ""
		}
	}
	bare := names[0][n:]
	for k := range h.Tensors {
		if !strings.HasSuffix(k, bare) {
			continue
		}
		p := k[:len(k)-len(bare)]
		all := true
		for _, name := range names {
			if _, ok := h.Tensors[p+name[n:]]; !ok {
				all = false
				break
			}
		}
		if all {
			return fmt.Sprintf("no tensor is named %q; the file has %q: set ImportOptions.Prefix = %q", names[0], p+bare, p)
		}
	}
	// No prefix makes every name match; say what the names share.
	common := ""
	for k := range h.Tensors {
		if common == "" {
			common = k
		}
		for !strings.HasPrefix(k, common) {
			common = common[:len(common)-1]
		}
	}
	if i := strings.LastIndexByte(common, '.'); i >= 0 {
		return fmt.Sprintf("no tensor is named %q; every tensor name starts with %q: set ImportOptions.Prefix, and Rename if the layer indices differ", names[0], common[:i+1])
	}
	return ""
}
