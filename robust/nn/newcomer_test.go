package nn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// The tests of this file reproduce the problems a newcomer met and check
// the errors they now get: errors.Is against the sentinel and, where the
// message is the point, its text.

// wantErr checks that err wraps every sentinel in want and says msg.
func wantErr(t *testing.T, what string, err error, msg string, want ...error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one saying %q", what, msg)
		return
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("%s: %v does not wrap %v", what, err, w)
		}
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: error %q does not say %q", what, err, msg)
	}
	if strings.Contains(err.Error(), "engine") {
		t.Errorf("%s: error %q names the engine", what, err)
	}
}

// TestZeroFieldsTakePyTorchDefaults: Conv2D{Out: 8, Kernel: 3} used to fail
// with "stride 0"; as in PyTorch, a convolution's stride defaults to 1 and
// a pooling layer's to its kernel.
func TestZeroFieldsTakePyTorchDefaults(t *testing.T) {
	s := Spec{Input: [3]int{1, 8, 8}, Layers: []Layer{
		Conv2D{Out: 8, Kernel: 3}, ReLU{}, // 8 x 6 x 6
		MaxPool2D{Kernel: 2}, // 8 x 3 x 3
		AvgPool2D{Kernel: 3}, // 8 x 1 x 1
		Flatten{}, Dense{Out: 10},
	}}
	m, err := New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	explicit := Spec{Input: [3]int{1, 8, 8}, Layers: []Layer{
		Conv2D{Out: 8, Kernel: 3, Stride: 1}, ReLU{},
		MaxPool2D{Kernel: 2, Stride: 2},
		AvgPool2D{Kernel: 3, Stride: 3},
		Flatten{}, Dense{Out: 10},
	}}
	if got := m.Spec(); !specEqual(t, got, explicit) {
		t.Errorf("Model.Spec() = %+v, want the defaults stated: %+v", got, explicit)
	}
	if got := m.Params()[2].Shape; len(got) != 2 || got[1] != 8 {
		t.Errorf("dense weight shape %v, want [10 8] (8 x 1 x 1 after pooling)", got)
	}
	// Defaults are resolved before saving: the file of the model with
	// implicit strides is the file of the one with explicit strides.
	e, err := New(explicit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saveBytes(t, m, nil), saveBytes(t, e, nil)) {
		t.Error("implicit and explicit strides save to different files")
	}
}

func specEqual(t *testing.T, a, b Spec) bool {
	t.Helper()
	ja, err1 := a.MarshalJSON()
	jb, err2 := b.MarshalJSON()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ja, jb)
}

// TestSavedFilesUnchanged: the bytes Save writes for existing models did
// not change when zero fields gained defaults (digests computed before the
// change, with the same models and key).
func TestSavedFilesUnchanged(t *testing.T) {
	_, priv := testKey(3)
	for _, c := range []struct {
		name string
		spec Spec
		sum  string
	}{
		{"ReferenceCNN", ReferenceCNN(), "75e16814d2afeebd5c53c6650ef242dc13c7c9d19ea8bd511c90f9deaa612ec9"},
		{"tinySpec", tinySpec(), "369e22cb7f5d989058d5481d6d426cd5d7b6451e2bcfc9f4addb9fdd1147ee79"},
	} {
		m := mustNew(t, c.spec, &Options{Seed: 7, Workers: 1})
		b := saveBytes(t, m, &SaveOptions{PrivateKey: priv})
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != c.sum {
			t.Errorf("%s: saved file hashes to %x, want %s", c.name, sum, c.sum)
		}
		if _, err := loadBytes(b, nil); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// A file that leaves a default implicit is not what Save writes, so
	// Load rejects it (one file per model).
	implicit := craft(t, func(_, meta map[string]any, d []byte) []byte {
		meta[metaSpec] = strings.Replace(meta[metaSpec].(string), `"stride":1,`, `"stride":0,`, 1)
		return d
	})
	_, err := loadBytes(implicit, nil)
	wantErr(t, "implicit stride", err, "not in the canonical form", ErrFormat)
}

func TestSpecErrorsNameTheLayer(t *testing.T) {
	img := [3]int{1, 8, 8}
	for _, c := range []struct {
		name string
		spec Spec
		msg  string
	}{
		{"dense on an image", Spec{Input: img, Layers: []Layer{Dense{Out: 10}}},
			"nn: Spec.Layers[0] (Dense): needs a flat input, got 1 x 8 x 8: put a Flatten before it: nn: invalid spec"},
		{"negative stride", Spec{Input: img, Layers: []Layer{Conv2D{Out: 4, Kernel: 3, Stride: -1}, Flatten{}, Dense{Out: 2}}},
			"nn: Spec.Layers[0] (Conv2D): Stride = -1, want [0, 32] (0 means 1): nn: invalid spec"},
		{"pool stride", Spec{Input: img, Layers: []Layer{AvgPool2D{Kernel: 2, Stride: 40}, Flatten{}, Dense{Out: 2}}},
			"nn: Spec.Layers[0] (AvgPool2D): Stride = 40, want [0, 32] (0 means Kernel)"},
		{"image output", Spec{Input: img, Layers: []Layer{Conv2D{Out: 4, Kernel: 3}}},
			"nn: Spec.Layers[0] (Conv2D): is the last layer and outputs 4 x 6 x 6, want a flat vector of at least 2 logits"},
		{"kernel too large", Spec{Input: img, Layers: []Layer{Flatten{}, ReLU{}, Conv2D{Out: 1, Kernel: 3}}},
			"nn: Spec.Layers[2] (Conv2D): needs a C x H x W input, got 64 values"},
		{"dropout", Spec{Input: img, Layers: []Layer{Flatten{}, Dropout{P: 1}, Dense{Out: 2}}},
			"nn: Spec.Layers[1] (Dropout): P = 1, want [0, 1)"},
	} {
		_, err := New(c.spec, nil)
		wantErr(t, c.name, err, c.msg, ErrSpec)
	}
}

func TestUnknownKindListsTheKinds(t *testing.T) {
	_, err := ParseSpec([]byte(`{"input":[1,4,4],"layers":[{"kind":"conv"}]}`))
	wantErr(t, "unknown kind", err,
		`Spec JSON layers[0].kind = "conv", want one of normalize, conv2d, dense, relu, maxpool2d, avgpool2d, flatten, dropout`, ErrSpec)
}

// TestNotSafetensors: a PNG or a torch.save archive used to fail with
// "header length 67324752 exceeds MaxHeaderBytes".
func TestNotSafetensors(t *testing.T) {
	for _, c := range []struct {
		name string
		head string
		msg  string
	}{
		{"torch.save", "PK\x03\x04\x00\x00\x08\x08", "not a safetensors file: looks like a zip archive (torch.save writes one); save the state_dict with safetensors.torch.save_file"},
		{"legacy torch.save", "\x80\x02\x8a\x0al\xfc\x9cF\xf9", "looks like a Python pickle"},
		{"PNG", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a PNG image"},
		{"JPEG", "\xff\xd8\xff\xe0\x00\x10JFIF", "looks like a JPEG image"},
		{"gzip", "\x1f\x8b\x08\x00\x00\x00\x00\x00", "looks like a gzip archive"},
		{"ONNX", "\x08\x07\x12\x07pytorch\x1a\x032.1", "looks like an ONNX model"},
		{"numpy", "\x93NUMPY\x01\x00v\x00{'descr'", "looks like a numpy .npy array"},
		{"JSON", `{"input":[1,28,28],"layers":[]}`, "looks like a JSON file"},
	} {
		r := strings.NewReader(c.head + strings.Repeat("\x00", 64))
		_, err := Load(r, nil)
		wantErr(t, c.name+": Load", err, c.msg, ErrFormat)
		r = strings.NewReader(c.head + strings.Repeat("\x00", 64))
		_, err = Import(ReferenceCNN(), r, nil)
		wantErr(t, c.name+": Import", err, c.msg, ErrFormat)
	}
	// An unrecognised file with an absurd length still reports the length.
	_, err := Load(strings.NewReader("\x00\x00\x00\x00\x00\x00\x00\x01"), nil)
	wantErr(t, "unknown", err, "exceeds MaxHeaderBytes", ErrTooLarge)
}

// TestImportSuggestsPrefix: a state_dict saved from a DataParallel model
// has keys "module.0.weight" and so on.
func TestImportSuggestsPrefix(t *testing.T) {
	h, d := plainFile(t)
	prefixed := map[string]any{}
	for k, v := range h {
		if k != metadataKey {
			k = "module." + k
		}
		prefixed[k] = v
	}
	file := joinFile(t, prefixed, d)
	_, err := Import(importCNN(), bytes.NewReader(file), nil)
	wantErr(t, "no prefix", err, `no tensor is named "0.weight"; the file has "module.0.weight": set ImportOptions.Prefix = "module."`, ErrFormat)
	if _, err := Import(importCNN(), bytes.NewReader(file), &ImportOptions{Prefix: "module."}); err != nil {
		t.Errorf("with the suggested prefix: %v", err)
	}
	// Keys that share a prefix but whose layer indices differ too (a
	// Sequential with one more layer in front): no Prefix alone fits.
	shift := strings.NewReplacer("0.", "1.", "2.", "3.", "5.", "6.", "7.", "8.")
	shifted := map[string]any{}
	for k, v := range h {
		if k != metadataKey {
			k = "net." + shift.Replace(k)
		}
		shifted[k] = v
	}
	_, err = Import(importCNN(), bytes.NewReader(joinFile(t, shifted, d)), nil)
	wantErr(t, "shared prefix", err, `no tensor is named "0.weight"; every tensor name starts with "net.": set ImportOptions.Prefix, and Rename if the layer indices differ`, ErrFormat)
}

// TestInputsOutsideBounds: Logits, LossGrad and LogitsVJP used to accept
// 0..255 pixels that attacks reject.
func TestInputsOutsideBounds(t *testing.T) {
	ctx := context.Background()
	m := mustNew(t, smallSpec(), nil)
	x := randImages(2, smallSpec(), 1)
	pixels := x.Clone().(*tensor.Dense)
	for i, v := range data32(pixels) {
		data32(pixels)[i] = float32(math.Round(float64(v) * 255))
	}
	nan := x.Clone().(*tensor.Dense)
	data32(nan)[3] = float32(math.NaN())
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: []int{0, 1}}
	g := make([]float64, 2*m.NumClasses())
	calls := map[string]func(*tensor.Dense) error{
		"Logits":    func(x *tensor.Dense) error { _, err := m.Logits(ctx, x); return err },
		"LossGrad":  func(x *tensor.Dense) error { _, _, err := m.LossGrad(ctx, x, obj); return err },
		"LogitsVJP": func(x *tensor.Dense) error { _, err := m.LogitsVJP(ctx, x, g); return err },
	}
	for name, call := range calls {
		if err := call(x); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantErr(t, name+" on 0..255 pixels", call(pixels), "; pixels in 0..255? divide them by 255, the model's Bounds are [0, 1]: robust: input out of bounds", robust.ErrBounds)
		wantErr(t, name+" on NaN", call(nan), "input[3] = NaN", robust.ErrNonFinite)
	}
	// FGSMRS takes gradients at an unclipped random start, up to Eps (at
	// most the bounds' width) outside Bounds: LossGrad and LogitsVJP accept
	// it, Logits does not.
	start := x.Clone().(*tensor.Dense)
	data32(start)[0], data32(start)[1] = -0.3, 1.3
	for name, call := range calls {
		err := call(start)
		if name == "Logits" {
			wantErr(t, "Logits at a random start", err, "input[0] = -0.3 outside [0, 1]", robust.ErrBounds)
		} else if err != nil {
			t.Errorf("%s at a random start: %v", name, err)
		}
	}
	data32(start)[1] = 2.5
	wantErr(t, "LossGrad beyond one width", calls["LossGrad"](start), "input[1] = 2.5 outside [-1, 2]", robust.ErrBounds)
}
