package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/robust"
)

// Errors of Load, LoadFile and Import. Each is wrapped with a message that
// names the offending field and value; test for them with errors.Is.
var (
	// ErrFormat reports a file that does not follow the format: a truncated
	// file, malformed or non-canonical JSON, a missing, unknown or
	// ill-typed field, a dtype that is not allowed, a tensor that is missing,
	// extra or shaped unlike the Spec needs, offsets that are out of range,
	// overlapping or leave gaps, or bytes after the data section.
	ErrFormat = errors.New("nn: malformed model file")
	// ErrTooLarge reports a header or file larger than the limits in the
	// options, or a model whose Spec costs more per example than
	// Options.MaxMACs or Options.MaxExampleBytes allow.
	ErrTooLarge = errors.New("nn: over a size limit")
	// ErrDigest reports a file whose content does not match its digest.
	ErrDigest = errors.New("nn: model file digest mismatch")
	// ErrSignature reports a missing, malformed or invalid signature.
	ErrSignature = errors.New("nn: model file signature invalid")
)

// Default limits of LoadOptions and ImportOptions.
const (
	// DefaultMaxBytes bounds a whole file: 1 GiB, room for the largest Spec
	// (maxParams float64 values, 512 MiB) and its header.
	DefaultMaxBytes = 1 << 30
	// DefaultMaxHeaderBytes bounds the JSON header: 1 MiB, far more than
	// the largest Spec needs.
	DefaultMaxHeaderBytes = 1 << 20
)

// metadataKey is the safetensors key of the string-to-string metadata.
const metadataKey = "__metadata__"

// entry is one tensor of a safetensors header.
type entry struct {
	Name       string
	Dtype      string
	Shape      []int
	Begin, End int64 // byte offsets into the data section
}

// header is a parsed safetensors header.
type header struct {
	Tensors  map[string]entry
	Metadata map[string]string // nil when the file has none
}

// limits holds validated size limits.
type limits struct{ maxBytes, maxHeader int64 }

func newLimits(maxBytes, maxHeader int64, owner string) (limits, error) {
	if maxBytes < 0 {
		return limits{}, errorf(robust.ErrConfig, "%s.MaxBytes = %d, want >= 0 (0 means DefaultMaxBytes)", owner, maxBytes)
	}
	if maxHeader < 0 {
		return limits{}, errorf(robust.ErrConfig, "%s.MaxHeaderBytes = %d, want >= 0 (0 means DefaultMaxHeaderBytes)", owner, maxHeader)
	}
	l := limits{maxBytes: maxBytes, maxHeader: maxHeader}
	if l.maxBytes == 0 {
		l.maxBytes = DefaultMaxBytes
	}
	if l.maxHeader == 0 {
		l.maxHeader = DefaultMaxHeaderBytes
	}
	return l, nil
}

// readHeader reads the 8-byte length and the header it announces, never
// allocating more than the limits allow nor more than the file holds.
func readHeader(r io.Reader, lim limits) ([]byte, error) {
	var prefix [8]byte
	if n, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, formatErr("file has %d bytes, shorter than the 8-byte header length", n)
		}
		return nil, fmt.Errorf("nn: reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	// When the length is unusable or the header is not a JSON object, say
	// what the file is, if it is a common format, rather than quote a
	// meaningless length.
	notSafetensors := func() error {
		if what, fix := sniff(prefix); what != "" {
			return formatErr("not a safetensors file: looks like %s; %s", what, fix)
		}
		return nil
	}
	if n > uint64(lim.maxHeader) || n+8 > uint64(lim.maxBytes) || n < 2 {
		if err := notSafetensors(); err != nil {
			return nil, err
		}
	}
	if n > uint64(lim.maxHeader) {
		return nil, errorf(ErrTooLarge, "header length %d exceeds MaxHeaderBytes = %d", n, lim.maxHeader)
	}
	if n+8 > uint64(lim.maxBytes) { // n is at most maxHeader: no overflow
		return nil, errorf(ErrTooLarge, "header length %d exceeds MaxBytes = %d", n, lim.maxBytes)
	}
	if n < 2 {
		return nil, formatErr("header length %d, too short for a JSON object", n)
	}
	b, err := readAtMost(r, int64(n))
	if err != nil {
		return nil, fmt.Errorf("nn: reading header: %w", err)
	}
	if int64(len(b)) < int64(n) || b[0] != '{' {
		if err := notSafetensors(); err != nil {
			return nil, err
		}
	}
	if int64(len(b)) < int64(n) {
		return nil, formatErr("header length %d exceeds the %d bytes left in the file", n, len(b))
	}
	return b, nil
}

// sniff recognises common files that people pass for safetensors files by
// their first bytes, and returns what the file looks like and how to get a
// safetensors file instead; "" when it does not recognise them. It is
// consulted only when the header length is unusable, so a real safetensors
// file is never misnamed.
func sniff(b [8]byte) (what, fix string) {
	const stateDict = "save the state_dict with safetensors.torch.save_file(model.state_dict(), path) and Import it"
	switch {
	case bytes.HasPrefix(b[:], []byte("PK\x03\x04")):
		return "a zip archive (torch.save writes one)", stateDict
	case b[0] == 0x80 && b[1] >= 2 && b[1] <= 5:
		return "a Python pickle (torch.save before PyTorch 1.6, or pickle.dump)", stateDict
	case b[0] == 0x1f && b[1] == 0x8b:
		return "a gzip archive", "decompress it first"
	case bytes.HasPrefix(b[:], []byte("\x89PNG\r\n\x1a\n")):
		return "a PNG image", "pass a model file, not an image"
	case b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "a JPEG image", "pass a model file, not an image"
	case bytes.HasPrefix(b[:], []byte("\x93NUMPY")):
		return "a numpy .npy array", "save the weights with safetensors.numpy.save_file"
	case bytes.HasPrefix(b[:], []byte("\x89HDF\r\n\x1a\n")):
		return "an HDF5 file (Keras .h5)", "convert the weights to a safetensors file"
	case b[0] == 0x08 && b[1] >= 1 && b[1] <= 12 && (b[2] == 0x12 || b[2] == 0x1a || b[2] == 0x3a):
		// ONNX ModelProto: field 1 (ir_version, a small varint), then
		// producer_name (2), producer_version (3) or graph (7).
		return "an ONNX model", "ONNX import is not supported yet; export the PyTorch state_dict with safetensors.torch.save_file"
	case b[0] == '{' || b[0] == '[':
		return "a JSON file", "pass the model file, not a Spec or config"
	}
	return "", ""
}

// readAtMost reads up to n bytes, stopping early at EOF. Its buffer grows
// with the bytes actually read, so a length from an untrusted file makes it
// allocate at most about twice what the file holds.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	const first = 1 << 16
	buf := make([]byte, 0, min(n, first))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n, 2*int64(cap(buf)))-int64(len(buf))))
		}
		// Grow may round the capacity up: never read past n.
		m, err := io.ReadFull(r, buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// parseHeader parses a header strictly: one JSON object without duplicate
// keys, whose "__metadata__" maps strings to strings and whose other
// entries have exactly the fields dtype, shape and data_offsets.
// Trailing spaces (the padding) are allowed.
func parseHeader(b []byte) (header, error) {
	if b[0] != '{' {
		return header{}, formatErr("header does not start with '{'")
	}
	if err := checkJSON(b); err != nil {
		return header{}, formatErr("header JSON: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return header{}, formatErr("header JSON: %v", err)
	}
	h := header{Tensors: make(map[string]entry, len(raw))}
	for name, v := range raw {
		if name == metadataKey {
			if bytes.Equal(v, []byte("null")) {
				return header{}, formatErr("%s is null, want an object", metadataKey)
			}
			if err := json.Unmarshal(v, &h.Metadata); err != nil {
				return header{}, formatErr("%s must map strings to strings: %v", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(name, v)
		if err != nil {
			return header{}, err
		}
		h.Tensors[name] = e
	}
	return h, nil
}

func parseEntry(name string, v json.RawMessage) (entry, error) {
	var f struct {
		Dtype       *string           `json:"dtype"`
		Shape       []json.RawMessage `json:"shape"`
		DataOffsets []json.RawMessage `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if v[0] != '{' {
		return entry{}, formatErr("tensor %q: entry is not an object", name)
	}
	if err := dec.Decode(&f); err != nil {
		return entry{}, formatErr("tensor %q: %v", name, err)
	}
	e := entry{Name: name}
	switch {
	case f.Dtype == nil:
		return entry{}, formatErr("tensor %q: missing dtype", name)
	case f.Shape == nil:
		return entry{}, formatErr("tensor %q: missing shape", name)
	case f.DataOffsets == nil:
		return entry{}, formatErr("tensor %q: missing data_offsets", name)
	case len(f.DataOffsets) != 2:
		return entry{}, formatErr("tensor %q: data_offsets has %d values, want 2", name, len(f.DataOffsets))
	}
	e.Dtype = *f.Dtype
	e.Shape = make([]int, 0, len(f.Shape))
	for i, s := range f.Shape {
		d, err := parseCount(s)
		if err != nil {
			return entry{}, formatErr("tensor %q: shape[%d] = %s: %v", name, i, s, err)
		}
		e.Shape = append(e.Shape, int(d))
	}
	var err error
	if e.Begin, err = parseCount(f.DataOffsets[0]); err != nil {
		return entry{}, formatErr("tensor %q: data_offsets[0] = %s: %v", name, f.DataOffsets[0], err)
	}
	if e.End, err = parseCount(f.DataOffsets[1]); err != nil {
		return entry{}, formatErr("tensor %q: data_offsets[1] = %s: %v", name, f.DataOffsets[1], err)
	}
	if e.End < e.Begin {
		return entry{}, formatErr("tensor %q: data_offsets [%d, %d] end before they begin", name, e.Begin, e.End)
	}
	return e, nil
}

// parseCount parses a non-negative JSON integer written with digits only:
// no sign, fraction, exponent or quotes, at most 2^53 (the integers every
// JSON reader represents exactly).
func parseCount(raw json.RawMessage) (int64, error) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || len(s) > 16 || (s[0] == '0' && len(s) > 1) {
		return 0, errors.New("want a non-negative integer at most 2^53")
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("want a non-negative integer at most 2^53")
		}
		v = 10*v + int64(c-'0')
	}
	if v > 1<<53 {
		return 0, errors.New("want a non-negative integer at most 2^53")
	}
	return v, nil
}

// layout is the result of matching a header's tensors to a Spec's
// parameters: the entries in parameter order and the data section size.
type layout struct {
	entries  []entry
	dataSize int64
}

// matchParams checks that the header holds exactly the parameters params
// (named names[i], all distinct) with the right shapes and dtypes allowed by allowed, and that
// their data_offsets tile the data section without gaps or overlaps. If
// inOrder, the tensors must also be stored in parameter order.
func matchParams(h header, params []engine.ParamInfo, names []string, allowed func(string) error, inOrder bool) (layout, error) {
	want := make(map[string]bool, len(params))
	for _, n := range names {
		want[n] = true
	}
	var extra []string
	for name := range h.Tensors {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return layout{}, formatErr("tensor %q is not a parameter of the spec (%d unexpected)", extra[0], len(extra))
	}
	out := layout{entries: make([]entry, len(params))}
	for i, p := range params {
		name := names[i]
		e, ok := h.Tensors[name]
		if !ok {
			return layout{}, formatErr("missing tensor %q", name)
		}
		if err := allowed(e.Dtype); err != nil {
			return layout{}, formatErr("tensor %q: dtype %q not allowed: %v", name, e.Dtype, err)
		}
		if !sameShape(e.Shape, p.Shape) {
			return layout{}, fmt.Errorf("nn: tensor %q has shape %v, the spec needs %v: %w: %w", name, e.Shape, p.Shape, ErrFormat, robust.ErrShape)
		}
		// Sizes are bounded by maxParams, so this cannot overflow.
		if n := int64(p.Size()) * int64(dtypeSize(e.Dtype)); e.End-e.Begin != n {
			return layout{}, formatErr("tensor %q: data_offsets [%d, %d] span %d bytes, %v %s needs %d", name, e.Begin, e.End, e.End-e.Begin, e.Shape, e.Dtype, n)
		}
		out.entries[i] = e
	}
	sorted := out.entries
	if !inOrder {
		sorted = slices.Clone(out.entries)
		slices.SortStableFunc(sorted, func(a, b entry) int {
			if a.Begin != b.Begin {
				return int(a.Begin - b.Begin)
			}
			return int(a.End - b.End)
		})
	}
	var end int64
	for _, e := range sorted {
		switch {
		case e.Begin > end:
			return layout{}, formatErr("tensor %q: data_offsets [%d, %d] leave a gap after byte %d", e.Name, e.Begin, e.End, end)
		case e.Begin < end && inOrder:
			return layout{}, formatErr("tensor %q: data_offsets [%d, %d] are out of parameter order or overlap the previous tensor, which ends at %d", e.Name, e.Begin, e.End, end)
		case e.Begin < end:
			return layout{}, formatErr("tensor %q: data_offsets [%d, %d] overlap another tensor, which ends at %d", e.Name, e.Begin, e.End, end)
		}
		end = e.End
	}
	out.dataSize = end
	return out, nil
}
