package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

// tinyFile is an unsigned file of tinySpec. Its parameters, in order:
// 1.weight [2 1 3 3] at [0, 72), 1.bias [2] at [72, 80), 6.weight [4 18]
// at [80, 368), 6.bias [4] at [368, 384), 9.weight [3 4] at [384, 432)
// and 9.bias [3] at [432, 444).
func tinyFile(t testing.TB) []byte {
	return saveBytes(t, mustNew(t, tinySpec(), &Options{Seed: 1}), nil)
}

// craft edits the header and data of tinyFile with edit and re-encodes
// them canonically, with a correct digest unless edit sets one.
func craft(t testing.TB, edit func(h, meta map[string]any, data []byte) []byte) []byte {
	t.Helper()
	h, data := splitFile(t, tinyFile(t))
	meta := h[metadataKey].(map[string]any)
	meta[metaSHA256] = ""
	data = edit(h, meta, bytes.Clone(data))
	return joinFile(t, h, data)
}

// entryOf returns the header entry of a tensor for editing.
func entryOf(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

// nums encodes data_offsets or a shape from raw JSON values.
func nums(vs ...string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = json.RawMessage(v)
	}
	return out
}

// withLength replaces the header length of a file.
func withLength(file []byte, n uint64) []byte {
	out := bytes.Clone(file)
	binary.LittleEndian.PutUint64(out, n)
	return out
}

// editHeader replaces old with new (once) in the header bytes of a file,
// keeping the padding rule.
func editHeader(t testing.TB, file []byte, old, new string) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(file)
	h := string(bytes.TrimRight(file[8:8+n], " "))
	if !strings.Contains(h, old) {
		t.Fatalf("header has no %q", old)
	}
	h = strings.Replace(h, old, new, 1)
	return rawFile(padHeader([]byte(h)), file[8+n:])
}

func specText(t testing.TB, s Spec) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadRejectsCraftedFiles(t *testing.T) {
	good := tinyFile(t)
	if _, err := loadBytes(good, nil); err != nil {
		t.Fatal(err)
	}
	if again := craft(t, func(_, _ map[string]any, d []byte) []byte { return d }); !bytes.Equal(again, good) {
		t.Fatal("craft without edits does not reproduce the file")
	}
	hlen := binary.LittleEndian.Uint64(good)
	nan := math.Float32bits(float32(math.NaN()))
	cases := []struct {
		name string
		file []byte
		opts *LoadOptions
		want []error
		msg  string // part of the message that names the field
	}{
		// Lengths and limits.
		{"shorter than the length prefix", good[:5], nil, []error{ErrFormat}, "shorter than the 8-byte"},
		{"header length 0", withLength(good, 0), nil, []error{ErrFormat}, "header length 0"},
		{"header length beyond the file", withLength(good, uint64(len(good))), nil, []error{ErrFormat}, "exceeds the"},
		{"header length 2^63", withLength(good, 1<<63), nil, []error{ErrTooLarge}, "MaxHeaderBytes"},
		{"header length 2^64-1", withLength(good, math.MaxUint64), nil, []error{ErrTooLarge}, "MaxHeaderBytes"},
		{"header above MaxHeaderBytes", good, &LoadOptions{MaxHeaderBytes: int64(hlen) - 8}, []error{ErrTooLarge}, "MaxHeaderBytes"},
		{"header above MaxBytes", good, &LoadOptions{MaxBytes: int64(hlen)}, []error{ErrTooLarge}, "MaxBytes"},
		{"MaxBytes below 8", good, &LoadOptions{MaxBytes: 4}, []error{ErrTooLarge}, "MaxBytes = 4"},
		{"file above MaxBytes", good, &LoadOptions{MaxBytes: int64(len(good)) - 1}, []error{ErrTooLarge}, "MaxBytes"},
		{"header is not an object", rawFile([]byte("[1,2,3] "), nil), nil, []error{ErrFormat}, "'{'"},
		{"truncated data", good[:len(good)-1], nil, []error{ErrFormat}, "data section"},
		{"trailing bytes", append(bytes.Clone(good), 0), nil, []error{ErrFormat}, "after the"},

		// Offsets.
		{"offsets past the end", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "9.bias")["data_offsets"] = nums("432", "456")
			return d
		}), nil, []error{ErrFormat}, `"9.bias": data_offsets [432, 456]`},
		{"offsets far past the end", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "9.bias")["data_offsets"] = nums("9007199254740980", "9007199254740992")
			return d
		}), nil, []error{ErrFormat}, `"9.bias": data_offsets [9007199254740980, 9007199254740992] leave a gap`},
		{"offset above 2^53", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "9.bias")["data_offsets"] = nums("432", "18446744073709551616")
			return d
		}), nil, []error{ErrFormat}, `"9.bias": data_offsets[1]`},
		{"negative offset", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.weight")["data_offsets"] = nums("-8", "64")
			return d
		}), nil, []error{ErrFormat}, `"1.weight": data_offsets[0]`},
		{"end before begin", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["data_offsets"] = nums("80", "72")
			return d
		}), nil, []error{ErrFormat}, "end before they begin"},
		{"three offsets", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["data_offsets"] = nums("72", "80", "88")
			return d
		}), nil, []error{ErrFormat}, "3 values"},
		{"overlapping tensors", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "6.bias")["data_offsets"] = nums("360", "376")
			return d
		}), nil, []error{ErrFormat}, `"6.bias": data_offsets [360, 376]`},
		{"gap between tensors", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "9.weight")["data_offsets"] = nums("388", "436")
			entryOf(h, "9.bias")["data_offsets"] = nums("436", "448")
			return append(d[:384:384], append(make([]byte, 4), d[384:]...)...)
		}), nil, []error{ErrFormat}, `"9.weight": data_offsets [388, 436] leave a gap after byte 384`},
		{"tensors out of parameter order", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["data_offsets"] = nums("0", "8")
			entryOf(h, "1.weight")["data_offsets"] = nums("8", "80")
			return append(append(bytes.Clone(d[72:80]), d[:72]...), d[80:]...)
		}), nil, []error{ErrFormat}, `"1.weight": data_offsets [8, 80] leave a gap after byte 0`},

		// Shapes and dtypes.
		{"negative shape", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["shape"] = nums("-2")
			return d
		}), nil, []error{ErrFormat}, `"1.bias": shape[0] = -2`},
		{"overflowing shape", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "6.weight")["shape"] = nums("4611686018427387904", "4")
			return d
		}), nil, []error{ErrFormat}, `"6.weight": shape[0] = 4611686018427387904`},
		{"shape 2^53, 4", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "6.weight")["shape"] = nums("9007199254740992", "4")
			return d
		}), nil, []error{ErrFormat, robust.ErrShape}, `"6.weight" has shape [9007199254740992 4], the spec needs [4 18]`},
		{"fractional shape", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["shape"] = nums("2.0")
			return d
		}), nil, []error{ErrFormat}, `"1.bias": shape[0] = 2.0`},
		{"string shape", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["shape"] = nums(`"2"`)
			return d
		}), nil, []error{ErrFormat}, `"1.bias": shape[0] = "2"`},
		{"transposed shape", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "6.weight")["shape"] = nums("18", "4")
			return d
		}), nil, []error{ErrFormat, robust.ErrShape}, `"6.weight" has shape [18 4]`},
		{"wrong dtype", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "6.bias")["dtype"] = "I32"
			return d
		}), nil, []error{ErrFormat}, `"6.bias": dtype "I32" not allowed`},
		{"F16 in a model file", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.weight")["dtype"] = "F16"
			return d
		}), nil, []error{ErrFormat}, `"1.weight": dtype "F16" not allowed`},
		{"mixed dtypes", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "9.bias")["dtype"] = "F64"
			entryOf(h, "9.bias")["data_offsets"] = nums("432", "456")
			return append(d, make([]byte, 12)...)
		}), nil, []error{ErrFormat}, `"9.bias": dtype "F64" not allowed: want F32 like tensor "1.weight"`},
		{"missing dtype", craft(t, func(h, _ map[string]any, d []byte) []byte {
			delete(entryOf(h, "1.bias"), "dtype")
			return d
		}), nil, []error{ErrFormat}, `"1.bias": missing dtype`},
		{"unknown field in a tensor", craft(t, func(h, _ map[string]any, d []byte) []byte {
			entryOf(h, "1.bias")["requires_grad"] = true
			return d
		}), nil, []error{ErrFormat}, `"1.bias": json: unknown field "requires_grad"`},
		{"null tensor", craft(t, func(h, _ map[string]any, d []byte) []byte {
			h["1.bias"] = nil
			return d
		}), nil, []error{ErrFormat}, `"1.bias": entry is not an object`},

		// Tensors against the Spec.
		{"missing tensor", craft(t, func(h, _ map[string]any, d []byte) []byte {
			delete(h, "9.bias")
			return d[:432]
		}), nil, []error{ErrFormat}, `missing tensor "9.bias"`},
		{"extra tensor", craft(t, func(h, _ map[string]any, d []byte) []byte {
			h["9.running_mean"] = map[string]any{"dtype": "F32", "shape": nums("3"), "data_offsets": nums("444", "456")}
			return append(d, make([]byte, 12)...)
		}), nil, []error{ErrFormat}, `tensor "9.running_mean" is not a parameter`},
		{"unknown layer kind", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = `{"input":[1,6,6],"layers":[{"kind":"lambda","code":"import os"}]}`
			return d
		}), nil, []error{ErrSpec}, `kind = "lambda", want one of normalize, conv2d`},
		{"absurd input", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = `{"input":[1,100000,100000],"layers":[{"kind":"flatten"}]}`
			return d
		}), nil, []error{ErrSpec}, "Spec.Input = [1 100000 100000]"},
		{"absurd dense layer", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = `{"input":[1,6,6],"layers":[{"kind":"flatten"},{"kind":"dense","out":1099511627776}]}`
			return d
		}), nil, []error{ErrSpec}, "Spec.Layers[1] (Dense): Out = 1099511627776"},
		{"too many parameters", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = `{"input":[4096,32,32],"layers":[{"kind":"flatten"},{"kind":"dense","out":65536}]}`
			return d
		}), nil, []error{ErrSpec}, "parameters"},
		{"another valid spec", craft(t, func(_, m map[string]any, d []byte) []byte {
			s := tinySpec()
			s.Layers[1] = Conv2D{Out: 2, Kernel: 3, Stride: 2, Pad: 1}
			m[metaSpec] = specText(t, s)
			return d
		}), nil, []error{ErrFormat, robust.ErrShape}, `"6.weight" has shape [4 18], the spec needs [4 2]`},
		{"non-canonical spec", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = strings.Replace(m[metaSpec].(string), `"input":`, `"input": `, 1)
			return d
		}), nil, []error{ErrFormat}, "__metadata__.spec is not in the canonical form"},
		{"spec with duplicate keys", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSpec] = strings.Replace(m[metaSpec].(string), `"input":`, `"input":[1,6,6],"input":`, 1)
			return d
		}), nil, []error{ErrSpec}, "duplicate key"},

		// Metadata.
		{"no metadata", craft(t, func(h, _ map[string]any, d []byte) []byte {
			delete(h, metadataKey)
			return d
		}), nil, []error{ErrFormat}, "use Import"},
		{"unknown metadata key", craft(t, func(_, m map[string]any, d []byte) []byte {
			m["author"] = "mallory"
			return d
		}), nil, []error{ErrFormat}, `unknown key __metadata__."author"`},
		{"metadata value not a string", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaFormat] = 1
			return d
		}), nil, []error{ErrFormat}, "__metadata__ must map strings to strings"},
		{"other format", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaFormat] = "gorobust/2"
			return d
		}), nil, []error{ErrFormat}, `__metadata__.format is "gorobust/2"`},
		{"missing spec", craft(t, func(_, m map[string]any, d []byte) []byte {
			delete(m, metaSpec)
			return d
		}), nil, []error{ErrFormat}, "missing __metadata__.spec"},
		{"missing digest", craft(t, func(_, m map[string]any, d []byte) []byte {
			delete(m, metaSHA256)
			return d
		}), nil, []error{ErrFormat}, "missing __metadata__.sha256"},
		{"upper-case digest", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSHA256] = strings.Repeat("A", 64)
			return d
		}), nil, []error{ErrFormat}, "__metadata__.sha256"},
		{"bad digest", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSHA256] = strings.Repeat("0", 64)
			return d
		}), nil, []error{ErrDigest}, "__metadata__.sha256 = 0000"},
		{"signature not base64", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSignature] = "not base64!"
			return d
		}), nil, []error{ErrSignature}, "__metadata__.signature is not"},
		{"signature too short", craft(t, func(_, m map[string]any, d []byte) []byte {
			m[metaSignature] = "AAAA"
			return d
		}), nil, []error{ErrSignature}, "__metadata__.signature is not"},

		// Values.
		{"NaN weight", craft(t, func(_, _ map[string]any, d []byte) []byte {
			binary.LittleEndian.PutUint32(d[4*5:], nan)
			return d
		}), nil, []error{robust.ErrNonFinite}, `tensor "1.weight" value 5 is NaN`},
		{"infinite bias", craft(t, func(_, _ map[string]any, d []byte) []byte {
			binary.LittleEndian.PutUint32(d[432:], math.Float32bits(float32(math.Inf(-1))))
			return d
		}), nil, []error{robust.ErrNonFinite}, `tensor "9.bias" value 0 is -Inf`},

		// JSON.
		{"duplicate tensor", editHeader(t, good, `{"1.bias":`, `{"1.bias":{"data_offsets":[72,80],"dtype":"F32","shape":[2]},"1.bias":`), nil, []error{ErrFormat}, `duplicate key "1.bias"`},
		{"duplicate field", editHeader(t, good, `"dtype":"F32"`, `"dtype":"F32","dtype":"F32"`), nil, []error{ErrFormat}, `duplicate key "dtype"`},
		{"duplicate metadata key", editHeader(t, good, `"format":`, `"format":"x","format":`), nil, []error{ErrFormat}, `duplicate key "format"`},
		{"deep nesting", rawFile(padHeader([]byte(`{"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`)), nil), nil, []error{ErrFormat}, "deeper"},
		{"space in the header", editHeader(t, good, `{"1.bias":`, `{ "1.bias":`), nil, []error{ErrFormat}, "canonical"},
		{"escaped name", editHeader(t, good, `{"1.bias":`, `{"1\u002ebias":`), nil, []error{ErrFormat}, "canonical"},
		{"extra padding", rawFile(append(bytes.Clone(good[8:8+hlen]), "        "...), good[8+hlen:]), nil, []error{ErrFormat}, "canonical"},
	}
	for _, c := range cases {
		_, err := loadBytes(c.file, c.opts)
		if err == nil {
			t.Errorf("%s: Load succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: got %v, want it to wrap %v", c.name, err, w)
			}
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.msg)
		}
	}
}

// TestLoadAllocatesLittleForLies loads files whose headers announce a
// large model (2^25 + 65536 float32 parameters, 128 MiB) but that hold
// only a few bytes: Load must fail without allocating the announced size.
func TestLoadAllocatesLittleForLies(t *testing.T) {
	spec := Spec{Input: [3]int{1, 16, 32}, Layers: []Layer{Flatten{}, Dense{Out: 65536}}}
	const wBytes, bBytes = 65536 * 512 * 4, 65536 * 4
	h := map[string]any{
		"1.weight": map[string]any{"dtype": "F32", "shape": nums("65536", "512"), "data_offsets": []any{0, wBytes}},
		"1.bias":   map[string]any{"dtype": "F32", "shape": nums("65536"), "data_offsets": []any{wBytes, wBytes + bBytes}},
		metadataKey: map[string]any{
			metaFormat: Format, metaSpec: specText(t, spec), metaSHA256: strings.Repeat("0", 64),
		},
	}
	file := joinFile(t, h, []byte("0123456789"))
	for _, c := range []struct {
		name string
		opts *LoadOptions
		want error
	}{
		{"default limits", nil, ErrFormat},
		{"MaxBytes 1 MiB", &LoadOptions{MaxBytes: 1 << 20}, ErrTooLarge},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := loadBytes(file, c.opts)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		// Parsing a 1 KB header takes a few hundred KB at most; the
		// announced data would take 128 MiB.
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
			t.Errorf("%s: Load allocated %d bytes", c.name, n)
		}
	}
}
