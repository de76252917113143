package nn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/robust"
)

// ErrSpec reports an invalid architecture.
var ErrSpec = errors.New("nn: invalid spec")

// Hard limits on a Spec. They keep every size computation far from
// overflow and refuse absurd architectures before any arithmetic on them;
// every real image classifier this module targets fits well inside them.
// What a model may cost to run is bounded separately, and adjustably, by
// Options.MaxMACs and Options.MaxExampleBytes.
const (
	maxLayers    = 64      // layers in a Spec
	maxInputSide = 1024    // input height and width
	maxChannels  = 4096    // input channels, convolution outputs
	maxFeatures  = 1 << 16 // dense layer outputs
	maxKernel    = 32      // kernel side, stride and padding
	maxParams    = 1 << 26 // parameters in the whole model (256 MiB as float32)
)

// Layer is one layer of a Spec: Normalize, Conv2D, Dense, ReLU, MaxPool2D,
// AvgPool2D, Flatten or Dropout. The set is closed.
type Layer interface {
	kind() string
	engineLayer() engine.Layer
}

// Normalize maps each channel c to (x - Mean[c]) / Std[c]. It keeps
// normalisation inside the model so attacks work in pixel space. Mean and
// Std need one value per channel of the layer's input.
type Normalize struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Conv2D is a 2-D convolution with a bias, square kernel, stride and zero
// padding. Its weight is Out x In x Kernel x Kernel, as in PyTorch.
type Conv2D struct {
	// Out is the number of output channels, in [1, 4096]; required.
	Out int `json:"out"`
	// Kernel is the side of the square kernel, in [1, 32]; required.
	Kernel int `json:"kernel"`
	// Stride is the step between windows, in [0, 32]. If Stride is
	// 0, 1 is used, as in PyTorch's nn.Conv2d.
	Stride int `json:"stride"`
	// Pad is the zero padding on each side, in [0, Kernel); 0 means none,
	// as in PyTorch.
	Pad int `json:"pad"`
}

// Dense is a fully connected layer with a bias. Its weight is Out x In, as
// in PyTorch. Its input must be flat: put a Flatten before it.
type Dense struct {
	// Out is the number of output features, in [1, 65536]; required.
	Out int `json:"out"`
}

// ReLU is max(x, 0).
type ReLU struct{}

// MaxPool2D takes the maximum over square windows without padding.
type MaxPool2D struct {
	// Kernel is the side of the window, in [1, 32]; required.
	Kernel int `json:"kernel"`
	// Stride is the step between windows, in [0, 32]. If Stride is
	// 0, Kernel is used (windows that do not overlap), as in PyTorch's
	// nn.MaxPool2d.
	Stride int `json:"stride"`
}

// AvgPool2D averages square windows without padding.
type AvgPool2D struct {
	// Kernel is the side of the window, in [1, 32]; required.
	Kernel int `json:"kernel"`
	// Stride is the step between windows, in [0, 32]. If Stride is
	// 0, Kernel is used, as in PyTorch's nn.AvgPool2d.
	Stride int `json:"stride"`
}

// Flatten turns C x H x W activations into a vector of C*H*W values, in
// that order (PyTorch's order).
type Flatten struct{}

// Dropout zeroes each activation with probability P during training and
// scales the others by 1/(1-P); it is the identity for inference and for
// every gradient an attack takes.
type Dropout struct {
	// P is the drop probability, in [0, 1).
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

// layerKinds lists the JSON kinds of the layers, in the order of the
// package documentation.
var layerKinds = []string{"normalize", "conv2d", "dense", "relu", "maxpool2d", "avgpool2d", "flatten", "dropout"}

// layerName is the Go name of l's type, as users write it in a Spec.
func layerName(l Layer) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", l), "nn.")
}

// withDefaults returns l with every zero field that has a documented
// default replaced by that default.
func withDefaults(l Layer) Layer {
	switch v := l.(type) {
	case Conv2D:
		if v.Stride == 0 {
			v.Stride = 1
		}
		return v
	case MaxPool2D:
		if v.Stride == 0 {
			v.Stride = v.Kernel
		}
		return v
	case AvgPool2D:
		if v.Stride == 0 {
			v.Stride = v.Kernel
		}
		return v
	}
	return l
}

// withDefaults returns a copy of s with every layer's defaults resolved.
//
// New resolves the defaults before it stores the Spec, so Model.Spec and
// the file Save writes state every stride explicitly. A saved file thus
// means the same to any reader, including older versions of this package
// (which required explicit strides) and the numpy snippet of the package
// documentation, which know nothing of our defaults; files saved before
// defaults existed keep their bytes; and Load, which accepts only the
// canonical encoding, keeps one file per model.
func (s Spec) withDefaults() Spec {
	out := cloneSpec(s)
	for i, l := range out.Layers {
		if l != nil {
			out.Layers[i] = withDefaults(l)
		}
	}
	return out
}

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
// shapes; it returns an error wrapping ErrSpec that names the first problem
// ("nn: Spec.Layers[2] (Dense): needs a flat input, ..."). Zero fields that
// have a documented default are valid.
func (s Spec) Validate() error {
	_, _, _, err := s.infer()
	return err
}

// infer validates s, resolves its defaults and infers its shapes. It
// returns the engine layers, the parameters and the per-example cost of
// s.withDefaults().
func (s Spec) infer() ([]engine.Layer, []engine.ParamInfo, engine.Cost, error) {
	c, h, w := s.Input[0], s.Input[1], s.Input[2]
	if c < 1 || c > maxChannels || h < 1 || h > maxInputSide || w < 1 || w > maxInputSide {
		return nil, nil, engine.Cost{}, specErr("Spec.Input = %v, want C x H x W with C in [1, %d] and H, W in [1, %d]", s.Input, maxChannels, maxInputSide)
	}
	if err := s.bounds().Validate(); err != nil {
		return nil, nil, engine.Cost{}, fmt.Errorf("nn: Spec.Bounds = [%v, %v]: %w: %w", s.Bounds.Min, s.Bounds.Max, err, ErrSpec)
	}
	if len(s.Layers) == 0 || len(s.Layers) > maxLayers {
		return nil, nil, engine.Cost{}, specErr("Spec.Layers has %d layers, want 1 to %d", len(s.Layers), maxLayers)
	}
	layers := make([]engine.Layer, len(s.Layers))
	for i, l := range s.Layers {
		if l == nil {
			return nil, nil, engine.Cost{}, specErr("Spec.Layers[%d] is nil", i)
		}
		if bad := checkLayer(l); bad != "" {
			return nil, nil, engine.Cost{}, specErr("Spec.Layers[%d] (%s): %s", i, layerName(l), bad)
		}
		layers[i] = withDefaults(l).engineLayer()
	}
	shapes, params, err := engine.Infer(engine.Shape{C: c, H: h, W: w}, layers)
	if err != nil {
		var le *engine.LayerError
		if errors.As(err, &le) && le.Layer >= 0 && le.Layer < len(s.Layers) {
			return nil, nil, engine.Cost{}, specErr("Spec.Layers[%d] (%s): %s", le.Layer, layerName(s.Layers[le.Layer]), le.Reason)
		}
		return nil, nil, engine.Cost{}, specErr("Spec: %v", err)
	}
	total := 0
	for _, p := range params {
		total += p.Size() // each factor is bounded, so no overflow
		if total > maxParams {
			return nil, nil, engine.Cost{}, specErr("Spec has more than %d parameters", maxParams)
		}
	}
	return layers, params, engine.CostOf(engine.Shape{C: c, H: h, W: w}, layers, shapes), nil
}

// checkLayer checks one layer's fields against the limits of this package
// and returns what is wrong, naming the field ("Stride = -1, want ..."), or
// "" when nothing is.
func checkLayer(l Layer) string {
	switch l := l.(type) {
	case Normalize:
		if len(l.Mean) != len(l.Std) || len(l.Mean) == 0 || len(l.Mean) > maxChannels {
			return fmt.Sprintf("Mean has %d values and Std %d, want one of each per input channel (at most %d)", len(l.Mean), len(l.Std), maxChannels)
		}
		for i := range l.Mean {
			if math.IsNaN(l.Mean[i]) || math.IsInf(l.Mean[i], 0) {
				return fmt.Sprintf("Mean[%d] = %v, want a finite value", i, l.Mean[i])
			}
			if !(l.Std[i] > 0) || math.IsInf(l.Std[i], 0) {
				return fmt.Sprintf("Std[%d] = %v, want a finite value > 0", i, l.Std[i])
			}
		}
	case Conv2D:
		if l.Out < 1 || l.Out > maxChannels {
			return fmt.Sprintf("Out = %d, want [1, %d]", l.Out, maxChannels)
		}
		if bad := checkWindow(l.Kernel, l.Stride, "1"); bad != "" {
			return bad
		}
		if l.Pad < 0 || l.Pad >= l.Kernel {
			return fmt.Sprintf("Pad = %d, want [0, Kernel) = [0, %d)", l.Pad, l.Kernel)
		}
	case Dense:
		if l.Out < 1 || l.Out > maxFeatures {
			return fmt.Sprintf("Out = %d, want [1, %d]", l.Out, maxFeatures)
		}
	case MaxPool2D:
		return checkWindow(l.Kernel, l.Stride, "Kernel")
	case AvgPool2D:
		return checkWindow(l.Kernel, l.Stride, "Kernel")
	case Dropout:
		if !(l.P >= 0 && l.P < 1) {
			return fmt.Sprintf("P = %v, want [0, 1)", l.P)
		}
	case ReLU, Flatten:
	default:
		return fmt.Sprintf("unknown layer type %T, want one of Normalize, Conv2D, Dense, ReLU, MaxPool2D, AvgPool2D, Flatten, Dropout", l)
	}
	return ""
}

// checkWindow checks a kernel and a stride whose zero value means def.
func checkWindow(kernel, stride int, def string) string {
	if kernel < 1 || kernel > maxKernel {
		return fmt.Sprintf("Kernel = %d, want [1, %d]", kernel, maxKernel)
	}
	if stride < 0 || stride > maxKernel {
		return fmt.Sprintf("Stride = %d, want [0, %d] (0 means %s)", stride, maxKernel, def)
	}
	return ""
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
			return nil, specErr("Spec.Layers[%d] is nil", i)
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
	if err := checkJSON(b); err != nil {
		return specErr("Spec JSON: %v", err)
	}
	var in specJSON
	if err := strictUnmarshal(b, &in); err != nil {
		return specErr("Spec JSON: %v", err)
	}
	if len(in.Layers) > maxLayers {
		return specErr("Spec JSON has %d layers, want at most %d", len(in.Layers), maxLayers)
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
			return specErr("Spec JSON layers[%d]: %v", i, err)
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
			return specErr("Spec JSON layers[%d].kind = %q, want one of %s", i, head.Kind, strings.Join(layerKinds, ", "))
		}
		if err != nil {
			return specErr("Spec JSON layers[%d] (%s): %v", i, head.Kind, err)
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
