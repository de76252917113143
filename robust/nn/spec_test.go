package nn

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSpecJSONRoundTrip(t *testing.T) {
	s := Spec{
		Input: [3]int{3, 16, 16},
		Layers: []Layer{
			Normalize{Mean: []float64{0.5, 0.4, 0.3}, Std: []float64{0.2, 0.25, 0.3}},
			Conv2D{Out: 8, Kernel: 3, Stride: 1, Pad: 1}, ReLU{},
			MaxPool2D{Kernel: 2, Stride: 2},
			AvgPool2D{Kernel: 2, Stride: 2},
			Flatten{}, Dense{Out: 32}, Dropout{P: 0.25}, ReLU{}, Dense{Out: 10},
		},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSpec(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip changed the spec:\n got %#v\nwant %#v", got, s)
	}
	ref, _ := json.Marshal(ReferenceCNN())
	if !strings.Contains(string(ref), `{"kind":"conv2d","out":16,"kernel":4,"stride":2,"pad":1}`) {
		t.Errorf("unexpected encoding: %s", ref)
	}
}

func TestSpecRejectsBadJSON(t *testing.T) {
	cases := map[string]string{
		"unknown top field":  `{"input":[1,4,4],"layers":[{"kind":"flatten"},{"kind":"dense","out":2}],"extra":1}`,
		"unknown layer":      `{"input":[1,4,4],"layers":[{"kind":"lstm"}]}`,
		"unknown layer key":  `{"input":[1,4,4],"layers":[{"kind":"flatten","x":1},{"kind":"dense","out":2}]}`,
		"duplicate key":      `{"input":[1,4,4],"input":[1,8,8],"layers":[{"kind":"flatten"},{"kind":"dense","out":2}]}`,
		"duplicate in layer": `{"input":[1,4,4],"layers":[{"kind":"flatten"},{"kind":"dense","out":2,"out":3}]}`,
		"trailing data":      `{"input":[1,4,4],"layers":[{"kind":"flatten"},{"kind":"dense","out":2}]} {}`,
		"wrong type":         `{"input":[1,4,4],"layers":[{"kind":"flatten"},{"kind":"dense","out":"2"}]}`,
		"deep nesting":       strings.Repeat("[", 100) + strings.Repeat("]", 100),
	}
	for name, in := range cases {
		if _, err := ParseSpec([]byte(in)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: got %v, want ErrSpec", name, err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	flat := func(ls ...Layer) Spec {
		return Spec{Input: [3]int{1, 8, 8}, Layers: append(ls, Flatten{}, Dense{Out: 10})}
	}
	cases := map[string]Spec{
		"no layers":         {Input: [3]int{1, 8, 8}},
		"zero input":        {Input: [3]int{0, 8, 8}, Layers: []Layer{Flatten{}, Dense{Out: 2}}},
		"huge input":        {Input: [3]int{1, 1 << 20, 8}, Layers: []Layer{Flatten{}, Dense{Out: 2}}},
		"negative out":      flat(Conv2D{Out: -1, Kernel: 3, Stride: 1}),
		"huge channels":     flat(Conv2D{Out: 1 << 20, Kernel: 3, Stride: 1}),
		"negative stride":   flat(Conv2D{Out: 4, Kernel: 3, Stride: -1}),
		"negative pool":     flat(MaxPool2D{Kernel: 2, Stride: -1}),
		"pad >= kernel":     flat(Conv2D{Out: 4, Kernel: 3, Stride: 1, Pad: 3}),
		"kernel too big":    flat(Conv2D{Out: 4, Kernel: 9, Stride: 1}),
		"dense on image":    {Input: [3]int{1, 8, 8}, Layers: []Layer{Dense{Out: 10}}},
		"one logit":         {Input: [3]int{1, 8, 8}, Layers: []Layer{Flatten{}, Dense{Out: 1}}},
		"image output":      {Input: [3]int{1, 8, 8}, Layers: []Layer{Conv2D{Out: 4, Kernel: 3, Stride: 1}}},
		"dropout p=1":       flat(Dropout{P: 1}),
		"nil layer":         {Input: [3]int{1, 8, 8}, Layers: []Layer{nil}},
		"zero std":          flat(Normalize{Mean: []float64{0}, Std: []float64{0}}),
		"wrong means":       flat(Normalize{Mean: []float64{0, 0}, Std: []float64{1, 1}}),
		"bad bounds":        {Input: [3]int{1, 8, 8}, Bounds: struct{ Min, Max float32 }{1, 0}, Layers: []Layer{Flatten{}, Dense{Out: 2}}},
		"too many params":   {Input: [3]int{64, 64, 64}, Layers: []Layer{Flatten{}, Dense{Out: 1 << 16}}},
		"huge activations":  {Input: [3]int{1, 1024, 1024}, Layers: []Layer{Conv2D{Out: 4096, Kernel: 1, Stride: 1}, Flatten{}, Dense{Out: 2}}},
		"padded pooling":    flat(MaxPool2D{Kernel: 40, Stride: 1}),
		"too many layers":   {Input: [3]int{1, 8, 8}, Layers: append(make([]Layer, 0), repeatReLU(maxLayers)...)},
		"pool output empty": flat(AvgPool2D{Kernel: 9, Stride: 1}),
	}
	for name, s := range cases {
		if err := s.Validate(); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: got %v, want ErrSpec", name, err)
		}
		if _, err := New(s, nil); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: New: got %v, want ErrSpec", name, err)
		}
	}
	if err := ReferenceCNN().Validate(); err != nil {
		t.Errorf("reference CNN: %v", err)
	}
}

func repeatReLU(n int) []Layer {
	out := []Layer{Flatten{}}
	for len(out) < n {
		out = append(out, ReLU{})
	}
	return append(out, Dense{Out: 2})
}
