package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/robust"
)

// ErrSpec reports an invalid architecture.
var ErrSpec = errors.New("nn: invalid spec")

// Limits on a Spec. They keep an untrusted Spec (one read from a model file)
// from asking for absurd allocations; every real image classifier this
// module targets fits well inside them.
const (
	MaxLayers      = 64      // layers in a Spec
	MaxInputSide   = 1024    // input height and width
	MaxChannels    = 4096    // input channels, convolution outputs
	MaxFeatures    = 1 << 16 // dense layer outputs
	MaxKernel      = 32      // kernel side, stride and padding
	MaxActivations = 1 << 24 // values per example after any layer
	MaxParams      = 1 << 26 // parameters in the whole model (256 MiB as float32)
)

// Layer is one layer of a Spec: Normalize, Conv2D, Dense, ReLU, MaxPool2D,
// AvgPool2D, Flatten or Dropout. The set is closed.
type Layer interface {
	kind() string
	engineLayer() engine.Layer
}

// Normalize maps each channel c to (x - Mean[c]) / Std[c]. It keeps
// normalisation inside the model so attacks work in pixel space.
type Normalize struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Conv2D is a 2-D convolution with a bias, square kernel, stride and zero
// padding. Its weight is Out x In x Kernel x Kernel, as in PyTorch.
type Conv2D struct {
	Out    int `json:"out"`
	Kernel int `json:"kernel"`
	Stride int `json:"stride"`
	Pad    int `json:"pad"`
}

// Dense is a fully connected layer with a bias. Its weight is Out x In, as
// in PyTorch. Its input must be flat: put a Flatten before it.
type Dense struct {
	Out int `json:"out"`
}

// ReLU is max(x, 0).
type ReLU struct{}

// MaxPool2D takes the maximum over square windows without padding.
type MaxPool2D struct {
	Kernel int `json:"kernel"`
	Stride int `json:"stride"`
}

// AvgPool2D averages square windows without padding.
type AvgPool2D struct {
	Kernel int `json:"kernel"`
	Stride int `json:"stride"`
}

// Flatten turns C x H x W activations into a vector of C*H*W values, in
// that order (PyTorch's order).
type Flatten struct{}

// Dropout zeroes each activation with probability P during training and
// scales the others by 1/(1-P); it is the identity for inference and for
// every gradient an attack takes.
type Dropout struct {
	P float64 `json:"p"`
}

func (Normalize) kind() string { return "normalize" }
func (Conv2D) kind() string    { return "conv2d" }
func (Dense) kind() string     { return "dense" }
func (ReLU) kind() string      { return "relu" }
func (MaxPool2D) kind() string { return "maxpool2d" }
func (AvgPool2D) kind() string { return "avgpool2d" }
func (Flatten) kind() string   { return "flatten" }
func (Dropout) kind() string   { return "dropout" }

func (l Normalize) engineLayer() engine.Layer {
	return engine.Layer{Kind: engine.Normalize, Mean: append([]float64(nil), l.Mean...), Std: append([]float64(nil), l.Std...)}
}
func (l Conv2D) engineLayer() engine.Layer {
	return engine.Layer{Kind: engine.Conv2D, Out: l.Out, Kernel: l.Kernel, Stride: l.Stride, Pad: l.Pad}
}
func (l Dense) engineLayer() engine.Layer { return engine.Layer{Kind: engine.Dense, Out: l.Out} }
func (ReLU) engineLayer() engine.Layer    { return engine.Layer{Kind: engine.ReLU} }
func (l MaxPool2D) engineLayer() engine.Layer {
	return engine.Layer{Kind: engine.MaxPool2D, Kernel: l.Kernel, Stride: l.Stride}
}
func (l AvgPool2D) engineLayer() engine.Layer {
	return engine.Layer{Kind: engine.AvgPool2D, Kernel: l.Kernel, Stride: l.Stride}
}
func (Flatten) engineLayer() engine.Layer   { return engine.Layer{Kind: engine.Flatten} }
func (l Dropout) engineLayer() engine.Layer { return engine.Layer{Kind: engine.Dropout, P: l.P} }

// Spec is a declarative architecture: an input shape, an input range and a
// sequence of layers whose last one outputs the logits. It marshals to and
// from JSON; Unmarshal is strict.
type Spec struct {
	// Input is C, H, W of one example.
	Input [3]int
	// Bounds is the valid input range; the zero value means [0, 1].
	Bounds robust.Bounds
	Layers []Layer
}

// bounds returns the effective input range.
func (s Spec) bounds() robust.Bounds {
	if s.Bounds == (robust.Bounds{}) {
		return robust.UnitBounds
	}
	return s.Bounds
}

// Validate checks every layer against the limits of this package and infers
// shapes; it returns an error wrapping ErrSpec that names the first problem.
func (s Spec) Validate() error {
	_, _, err := s.infer()
	return err
}

func (s Spec) infer() ([]engine.Layer, []engine.ParamInfo, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrSpec, fmt.Sprintf(format, a...))
	}
	c, h, w := s.Input[0], s.Input[1], s.Input[2]
	if c < 1 || c > MaxChannels || h < 1 || h > MaxInputSide || w < 1 || w > MaxInputSide {
		return nil, nil, bad("input %v must be C x H x W with C in [1, %d] and H, W in [1, %d]", s.Input, MaxChannels, MaxInputSide)
	}
	if err := s.bounds().Validate(); err != nil {
		return nil, nil, bad("bounds: %v", err)
	}
	if len(s.Layers) == 0 || len(s.Layers) > MaxLayers {
		return nil, nil, bad("%d layers, want 1 to %d", len(s.Layers), MaxLayers)
	}
	layers := make([]engine.Layer, len(s.Layers))
	for i, l := range s.Layers {
		if l == nil {
			return nil, nil, bad("layer %d is nil", i)
		}
		if err := checkLayer(l); err != nil {
			return nil, nil, bad("layer %d (%s): %v", i, l.kind(), err)
		}
		layers[i] = l.engineLayer()
	}
	shapes, params, err := engine.Infer(engine.Shape{C: c, H: h, W: w}, layers)
	if err != nil {
		return nil, nil, bad("%v", err)
	}
	for i, sh := range shapes {
		if sh.Size() > MaxActivations {
			return nil, nil, bad("layer %d outputs %d values per example, limit %d", i, sh.Size(), MaxActivations)
		}
	}
	total := 0
	for _, p := range params {
		total += p.Size() // each factor is bounded, so no overflow
		if total > MaxParams {
			return nil, nil, bad("more than %d parameters", MaxParams)
		}
	}
	return layers, params, nil
}

func checkLayer(l Layer) error {
	switch l := l.(type) {
	case Normalize:
		if len(l.Mean) != len(l.Std) || len(l.Mean) == 0 || len(l.Mean) > MaxChannels {
			return fmt.Errorf("%d means and %d stds", len(l.Mean), len(l.Std))
		}
		for i := range l.Mean {
			if math.IsNaN(l.Mean[i]) || math.IsInf(l.Mean[i], 0) {
				return fmt.Errorf("mean[%d] = %v", i, l.Mean[i])
			}
			if !(l.Std[i] > 0) || math.IsInf(l.Std[i], 0) {
				return fmt.Errorf("std[%d] = %v, want finite and > 0", i, l.Std[i])
			}
		}
	case Conv2D:
		if l.Out < 1 || l.Out > MaxChannels {
			return fmt.Errorf("out %d, want [1, %d]", l.Out, MaxChannels)
		}
		if err := checkWindow(l.Kernel, l.Stride); err != nil {
			return err
		}
		if l.Pad < 0 || l.Pad >= l.Kernel {
			return fmt.Errorf("pad %d, want [0, kernel)", l.Pad)
		}
	case Dense:
		if l.Out < 1 || l.Out > MaxFeatures {
			return fmt.Errorf("out %d, want [1, %d]", l.Out, MaxFeatures)
		}
	case MaxPool2D:
		return checkWindow(l.Kernel, l.Stride)
	case AvgPool2D:
		return checkWindow(l.Kernel, l.Stride)
	case Dropout:
		if !(l.P >= 0 && l.P < 1) {
			return fmt.Errorf("p %v, want [0, 1)", l.P)
		}
	case ReLU, Flatten:
	default:
		return fmt.Errorf("unknown layer type %T", l)
	}
	return nil
}

func checkWindow(kernel, stride int) error {
	if kernel < 1 || kernel > MaxKernel {
		return fmt.Errorf("kernel %d, want [1, %d]", kernel, MaxKernel)
	}
	if stride < 1 || stride > MaxKernel {
		return fmt.Errorf("stride %d, want [1, %d]", stride, MaxKernel)
	}
	return nil
}

type specJSON struct {
	Input  [3]int            `json:"input"`
	Bounds *[2]float32       `json:"bounds,omitempty"`
	Layers []json.RawMessage `json:"layers"`
}

// MarshalJSON encodes the Spec with a "kind" field on every layer.
func (s Spec) MarshalJSON() ([]byte, error) {
	out := specJSON{Input: s.Input}
	if s.Bounds != (robust.Bounds{}) {
		out.Bounds = &[2]float32{s.Bounds.Min, s.Bounds.Max}
	}
	for i, l := range s.Layers {
		if l == nil {
			return nil, fmt.Errorf("%w: layer %d is nil", ErrSpec, i)
		}
		body, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		kind, _ := json.Marshal(l.kind())
		raw := []byte(`{"kind":` + string(kind))
		if len(body) > 2 {
			raw = append(append(raw, ','), body[1:]...)
		} else {
			raw = append(raw, '}')
		}
		out.Layers = append(out.Layers, raw)
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes strictly: unknown fields, duplicate keys, unknown
// layer kinds and trailing data are errors. It does not call Validate.
func (s *Spec) UnmarshalJSON(b []byte) error {
	if err := CheckJSON(b); err != nil {
		return fmt.Errorf("%w: %v", ErrSpec, err)
	}
	var in specJSON
	if err := strictUnmarshal(b, &in); err != nil {
		return fmt.Errorf("%w: %v", ErrSpec, err)
	}
	if len(in.Layers) > MaxLayers {
		return fmt.Errorf("%w: %d layers, limit %d", ErrSpec, len(in.Layers), MaxLayers)
	}
	out := Spec{Input: in.Input}
	if in.Bounds != nil {
		out.Bounds = robust.Bounds{Min: in.Bounds[0], Max: in.Bounds[1]}
	}
	for i, raw := range in.Layers {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("%w: layer %d: %v", ErrSpec, i, err)
		}
		var l Layer
		var err error
		switch head.Kind {
		case "normalize":
			l, err = decodeLayer[Normalize](raw)
		case "conv2d":
			l, err = decodeLayer[Conv2D](raw)
		case "dense":
			l, err = decodeLayer[Dense](raw)
		case "relu":
			l, err = decodeLayer[ReLU](raw)
		case "maxpool2d":
			l, err = decodeLayer[MaxPool2D](raw)
		case "avgpool2d":
			l, err = decodeLayer[AvgPool2D](raw)
		case "flatten":
			l, err = decodeLayer[Flatten](raw)
		case "dropout":
			l, err = decodeLayer[Dropout](raw)
		default:
			return fmt.Errorf("%w: layer %d: unknown kind %q", ErrSpec, i, head.Kind)
		}
		if err != nil {
			return fmt.Errorf("%w: layer %d (%s): %v", ErrSpec, i, head.Kind, err)
		}
		out.Layers = append(out.Layers, l)
	}
	*s = out
	return nil
}

// decodeLayer decodes one layer object, allowing only its own fields and
// "kind": the kind is removed, then the rest is decoded strictly.
func decodeLayer[L Layer](raw []byte) (Layer, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "kind")
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	var l L
	if err := strictUnmarshal(rest, &l); err != nil {
		return nil, err
	}
	return l, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// ParseSpec decodes a JSON Spec strictly and validates it.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	if err := s.UnmarshalJSON(b); err != nil {
		return Spec{}, err
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}
