package nn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// importCNN is the nn.Sequential of testdata/import/numpy_cnn*: the
// reference CNN scaled down to 1 x 12 x 12 inputs.
func importCNN() Spec {
	return Spec{
		Input: [3]int{1, 12, 12},
		Layers: []Layer{
			Conv2D{Out: 4, Kernel: 4, Stride: 2, Pad: 1}, ReLU{}, // 4x6x6
			Conv2D{Out: 8, Kernel: 4, Stride: 2, Pad: 1}, ReLU{}, // 8x3x3
			Flatten{}, Dense{Out: 16}, ReLU{}, Dense{Out: 10},
		},
	}
}

type fixture struct {
	Torch      string    `json:"torch"`
	Mean       []float64 `json:"mean"`
	Std        []float64 `json:"std"`
	InputShape []int     `json:"input_shape"`
	Input      []float64 `json:"input"`
	Logits     []float64 `json:"logits"`
}

func readFixtures(t *testing.T) map[string]fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "import", "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fs map[string]fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

func (f fixture) input() *tensor.Dense {
	d := make([]float32, len(f.Input))
	for i, v := range f.Input {
		d[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(f.InputShape...), tensor.WithBacking(d))
}

// TestImportMatchesWriters imports files written by numpy and by PyTorch
// (testdata/import/gen_fixtures.py) and compares the logits with those
// their writers computed.
func TestImportMatchesWriters(t *testing.T) {
	fs := readFixtures(t)
	torchSpec := Spec{
		Input: [3]int{3, 16, 16},
		Layers: []Layer{
			Normalize{Mean: fs["torch_cnn"].Mean, Std: fs["torch_cnn"].Std},
			Conv2D{Out: 6, Kernel: 3, Stride: 1, Pad: 1}, ReLU{}, MaxPool2D{Kernel: 2, Stride: 2},
			Conv2D{Out: 8, Kernel: 3, Stride: 2, Pad: 1}, ReLU{}, AvgPool2D{Kernel: 2, Stride: 1},
			Flatten{}, Dropout{P: 0.25}, Dense{Out: 12}, ReLU{}, Dense{Out: 5},
		},
	}
	// The Normalize layer has no PyTorch counterpart in the Sequential:
	// layer i of the Spec is layer i-1 of PyTorch.
	shift := func(name string) string {
		var i int
		var rest string
		fmt.Sscanf(name, "%d.%s", &i, &rest)
		return fmt.Sprintf("%d.%s", i-1, rest)
	}
	cases := []struct {
		file string
		spec Spec
		opts ImportOptions
		// tol bounds |logit - writer's logit|. The logits are below 0.25
		// in size. The writers computed in float64 (numpy) or float32
		// (PyTorch) from the same weights; a float32 model differs by the
		// float32 rounding of sums of ~100 terms, a few 1e-8 (1e-6 leaves
		// room), a float64 model from numpy's only by the rounding of its
		// logits to the float32 that Logits returns, below 1.5e-8. Rounding
		// the weights to F16 or BF16 moves the logits by 1e-4, so a wrong
		// conversion cannot pass.
		tol float64
	}{
		{"numpy_cnn", importCNN(), ImportOptions{}, 1e-6},
		{"numpy_cnn", importCNN(), ImportOptions{Options: Options{Float64: true}}, 1.5e-8},
		{"numpy_cnn_mixed", importCNN(), ImportOptions{}, 1e-6},
		{"numpy_cnn_mixed", importCNN(), ImportOptions{Options: Options{Float64: true}}, 1.5e-8},
		{"torch_cnn", torchSpec, ImportOptions{Rename: shift}, 1e-6},
		{"torch_cnn", torchSpec, ImportOptions{Rename: shift, Options: Options{Float64: true}}, 1e-6},
	}
	for _, c := range cases {
		fx, ok := fs[c.file]
		if !ok {
			t.Errorf("%s: no fixture", c.file)
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "import", c.file+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Import(c.spec, bytes.NewReader(b), &c.opts)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		z, err := m.Logits(context.Background(), fx.input())
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, v := range data32(z) {
			worst = max(worst, math.Abs(float64(v)-fx.Logits[i]))
		}
		if len(data32(z)) != len(fx.Logits) || worst > c.tol {
			t.Errorf("%s (float64 %v): logits differ from the writer's by %g, tolerance %g", c.file, c.opts.Float64, worst, c.tol)
		}
		t.Logf("%s (float64 %v, torch %q): %d logits, max difference %.3g", c.file, c.opts.Float64, fx.Torch, len(fx.Logits), worst)
	}
}

// plainFile returns numpy_cnn.safetensors split into header and data.
func plainFile(t *testing.T) (map[string]any, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "import", "numpy_cnn.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return splitFile(t, b)
}

func TestImportRejects(t *testing.T) {
	h0, d0 := plainFile(t)
	good := joinFile(t, h0, d0)
	sum := sha256.Sum256(good)
	// craftPlain edits a fresh copy of numpy_cnn.safetensors. Its data
	// section holds, by name: 0.bias [0, 16), 0.weight [16, 272), 2.bias
	// [272, 304), 2.weight [304, 2352), 5.bias [2352, 2416), 5.weight
	// [2416, 7024), 7.bias [7024, 7064), 7.weight [7064, 7704).
	craftPlain := func(edit func(h map[string]any, d []byte) []byte) []byte {
		h, d := plainFile(t)
		return joinFile(t, h, edit(h, bytes.Clone(d)))
	}
	cases := []struct {
		name string
		file []byte
		spec Spec
		opts *ImportOptions
		want []error
		msg  string
	}{
		{"another spec", good, ReferenceCNN(), nil, []error{ErrFormat, robust.ErrShape}, `"0.weight" has shape [4 1 4 4], the spec needs [16 1 4 4]`},
		{"invalid spec", good, Spec{}, nil, []error{ErrSpec}, "Spec.Input = [0 0 0]"},
		{"wrong digest", good, importCNN(), &ImportOptions{SHA256: make([]byte, 32)}, []error{ErrDigest}, "ImportOptions.SHA256 = 0000"},
		{"short digest", good, importCNN(), &ImportOptions{SHA256: sum[:4]}, []error{robust.ErrConfig}, "SHA256"},
		{"prefix", good, importCNN(), &ImportOptions{Prefix: "model."}, []error{ErrFormat}, `set ImportOptions.Prefix = ""`},
		{"rename collision", good, importCNN(), &ImportOptions{Rename: func(string) string { return "w" }}, []error{robust.ErrConfig}, `maps both "0.weight" and "0.bias" to tensor "w"`},
		{"transposed dense weight", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "5.weight")["shape"] = nums("72", "16")
			return d
		}), importCNN(), nil, []error{ErrFormat, robust.ErrShape}, `"5.weight" has shape [72 16], the spec needs [16 72]`},
		{"buffer", craftPlain(func(h map[string]any, d []byte) []byte {
			h["5.running_mean"] = map[string]any{"dtype": "F32", "shape": nums("1"), "data_offsets": nums("7704", "7708")}
			return append(d, 0, 0, 0, 0)
		}), importCNN(), nil, []error{ErrFormat}, `tensor "5.running_mean" is not a parameter`},
		{"missing tensor", craftPlain(func(h map[string]any, d []byte) []byte {
			delete(h, "7.weight")
			return d[:7064]
		}), importCNN(), nil, []error{ErrFormat}, `missing tensor "7.weight"`},
		{"unknown dtype", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "0.bias")["dtype"] = "I32"
			return d
		}), importCNN(), nil, []error{ErrFormat}, `"0.bias": dtype "I32" not allowed: want F32, F64, F16 or BF16`},
		{"overlap", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "0.bias")["data_offsets"] = nums("16", "32")
			entryOf(h, "0.weight")["data_offsets"] = nums("0", "256")
			return d
		}), importCNN(), nil, []error{ErrFormat}, "overlap another tensor"},
		{"gap", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "0.bias")["data_offsets"] = nums("4", "20")
			return d
		}), importCNN(), nil, []error{ErrFormat}, `"0.bias": data_offsets [4, 20] leave a gap after byte 0`},
		{"trailing bytes", append(bytes.Clone(good), 1, 2, 3, 4), importCNN(), nil, []error{ErrFormat}, "after the"},
		{"above MaxBytes", good, importCNN(), &ImportOptions{MaxBytes: int64(len(good)) - 1}, []error{ErrTooLarge}, "MaxBytes"},
		{"metadata not strings", craftPlain(func(h map[string]any, d []byte) []byte {
			h[metadataKey] = map[string]any{"epochs": 10}
			return d
		}), importCNN(), nil, []error{ErrFormat}, "must map strings to strings"},
		{"NaN in F16", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "0.bias")["dtype"] = "F16"
			entryOf(h, "0.bias")["data_offsets"] = nums("0", "8")
			for _, n := range []string{"0.weight", "2.bias", "2.weight", "5.bias", "5.weight", "7.bias", "7.weight"} {
				o := entryOf(h, n)["data_offsets"].([]any)
				b, _ := o[0].(json.Number).Int64()
				e, _ := o[1].(json.Number).Int64()
				entryOf(h, n)["data_offsets"] = nums(fmt.Sprint(b-8), fmt.Sprint(e-8))
			}
			binary.LittleEndian.PutUint16(d[8+4:], 0x7e00) // F16 NaN
			return d[8:]
		}), importCNN(), nil, []error{robust.ErrNonFinite}, `tensor "0.bias" value 2 is NaN`},
		{"F64 beyond float32", craftPlain(func(h map[string]any, d []byte) []byte {
			entryOf(h, "7.weight")["dtype"] = "F64"
			entryOf(h, "7.weight")["data_offsets"] = nums("7064", "8344")
			out := append(d[:7064:7064], make([]byte, 1280)...)
			binary.LittleEndian.PutUint64(out[7064+8*3:], math.Float64bits(1e39))
			return out
		}), importCNN(), nil, []error{robust.ErrNonFinite}, `tensor "7.weight" value 3 is 1e+39, beyond float32`},
	}
	for _, c := range cases {
		_, err := Import(c.spec, bytes.NewReader(c.file), c.opts)
		if err == nil {
			t.Errorf("%s: Import succeeded", c.name)
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
	// The same file is accepted with the right digest, under a prefix, and
	// from a file written by Save.
	if _, err := Import(importCNN(), bytes.NewReader(good), &ImportOptions{SHA256: sum[:]}); err != nil {
		t.Errorf("right digest: %v", err)
	}
	prefixed := craftPlain(func(h map[string]any, d []byte) []byte {
		for _, k := range sortedKeys(h) {
			if k != metadataKey {
				h["model."+k] = h[k]
				delete(h, k)
			}
		}
		return d
	})
	if _, err := Import(importCNN(), bytes.NewReader(prefixed), &ImportOptions{Prefix: "model."}); err != nil {
		t.Errorf("prefix: %v", err)
	}
	m := mustNew(t, tinySpec(), &Options{Seed: 4})
	im, err := Import(tinySpec(), bytes.NewReader(saveBytes(t, m, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saveBytes(t, im, nil), saveBytes(t, m, nil)) {
		t.Error("importing a saved file changed the model")
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
