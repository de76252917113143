package engine

import (
	"fmt"
)

// Kind is a layer kind.
type Kind int

// Layer kinds.
const (
	Normalize Kind = iota + 1
	Conv2D
	Dense
	ReLU
	MaxPool2D
	AvgPool2D
	Flatten
	Dropout
)

func (k Kind) String() string {
	switch k {
	case Normalize:
		return "normalize"
	case Conv2D:
		return "conv2d"
	case Dense:
		return "dense"
	case ReLU:
		return "relu"
	case MaxPool2D:
		return "maxpool2d"
	case AvgPool2D:
		return "avgpool2d"
	case Flatten:
		return "flatten"
	case Dropout:
		return "dropout"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Layer describes one layer. Callers (robust/nn) validate layers before
// handing them over; the engine re-checks shapes while inferring them.
type Layer struct {
	Kind Kind
	// Mean and Std are per-channel, Normalize only.
	Mean, Std []float64
	// Out is the number of output channels (Conv2D) or features (Dense).
	Out int
	// Kernel, Stride and Pad are square, Conv2D and pooling only.
	Kernel, Stride, Pad int
	// P is the drop probability, Dropout only.
	P float64
}

// Shape is the shape of one example: C x H x W, or a feature vector of
// length C when Flat.
type Shape struct {
	C, H, W int
	Flat    bool
}

// Size is the number of values in one example.
func (s Shape) Size() int {
	if s.Flat {
		return s.C
	}
	return s.C * s.H * s.W
}

// ParamInfo names a parameter and gives its shape in the master layout.
type ParamInfo struct {
	Name  string
	Shape []int
	// Layer is the index of the layer the parameter belongs to, FanIn its
	// fan-in for initialisation.
	Layer, FanIn int
}

// Size is the number of values in the parameter.
func (p ParamInfo) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// LayerError reports a layer that does not fit the shape it receives. Its
// Reason names no engine type, so that robust/nn can show it to users
// under the layer's own name.
type LayerError struct {
	Layer  int // index of the layer
	Reason string
}

func (e *LayerError) Error() string { return fmt.Sprintf("engine: layer %d: %s", e.Layer, e.Reason) }

// String formats a shape as users read it: "4 x 6 x 6", or "10 values".
func (s Shape) String() string {
	if s.Flat {
		return fmt.Sprintf("%d values", s.C)
	}
	return fmt.Sprintf("%d x %d x %d", s.C, s.H, s.W)
}

// Infer runs shape inference and returns the shape after every layer and
// the parameters, named "<layer index>.weight" and "<layer index>.bias" as
// PyTorch names the parameters of an nn.Sequential.
func Infer(in Shape, layers []Layer) ([]Shape, []ParamInfo, error) {
	shapes := make([]Shape, 0, len(layers))
	var params []ParamInfo
	s := in
	for i, l := range layers {
		bad := func(format string, a ...any) error {
			return &LayerError{Layer: i, Reason: fmt.Sprintf(format, a...)}
		}
		switch l.Kind {
		case Normalize:
			if s.Flat {
				return nil, nil, bad("needs a C x H x W input, got %v", s)
			}
			if len(l.Mean) != s.C || len(l.Std) != s.C {
				return nil, nil, bad("has %d means and %d stds for an input of %d channels", len(l.Mean), len(l.Std), s.C)
			}
		case Conv2D, MaxPool2D, AvgPool2D:
			if s.Flat {
				return nil, nil, bad("needs a C x H x W input, got %v", s)
			}
			if l.Kernel < 1 || l.Stride < 1 || l.Pad < 0 {
				return nil, nil, bad("Kernel %d, Stride %d, Pad %d", l.Kernel, l.Stride, l.Pad)
			}
			if l.Kind != Conv2D && l.Pad != 0 {
				// Padded pooling differs between frameworks (zeros or -inf,
				// counted or not); no padding keeps the meaning unambiguous.
				return nil, nil, bad("pooling does not support padding, got Pad %d", l.Pad)
			}
			h := (s.H+2*l.Pad-l.Kernel)/l.Stride + 1
			w := (s.W+2*l.Pad-l.Kernel)/l.Stride + 1
			if s.H+2*l.Pad < l.Kernel || s.W+2*l.Pad < l.Kernel {
				return nil, nil, bad("Kernel %d is larger than the padded input, %d x %d", l.Kernel, s.H+2*l.Pad, s.W+2*l.Pad)
			}
			if l.Kind == Conv2D {
				if l.Out < 1 {
					return nil, nil, bad("Out %d", l.Out)
				}
				fan := s.C * l.Kernel * l.Kernel
				params = append(params,
					ParamInfo{Name: fmt.Sprintf("%d.weight", i), Shape: []int{l.Out, s.C, l.Kernel, l.Kernel}, Layer: i, FanIn: fan},
					ParamInfo{Name: fmt.Sprintf("%d.bias", i), Shape: []int{l.Out}, Layer: i, FanIn: fan})
				s = Shape{C: l.Out, H: h, W: w}
			} else {
				s = Shape{C: s.C, H: h, W: w}
			}
		case Dense:
			if !s.Flat {
				return nil, nil, bad("needs a flat input, got %v: put a Flatten before it", s)
			}
			if l.Out < 1 {
				return nil, nil, bad("Out %d", l.Out)
			}
			params = append(params,
				ParamInfo{Name: fmt.Sprintf("%d.weight", i), Shape: []int{l.Out, s.C}, Layer: i, FanIn: s.C},
				ParamInfo{Name: fmt.Sprintf("%d.bias", i), Shape: []int{l.Out}, Layer: i, FanIn: s.C})
			s = Shape{C: l.Out, Flat: true}
		case ReLU:
		case Flatten:
			if !s.Flat {
				s = Shape{C: s.Size(), Flat: true}
			}
		case Dropout:
			if !(l.P >= 0 && l.P < 1) {
				return nil, nil, bad("P %v outside [0, 1)", l.P)
			}
		default:
			return nil, nil, bad("unknown layer kind")
		}
		shapes = append(shapes, s)
	}
	if !s.Flat || s.C < 2 {
		last := len(layers) - 1
		return nil, nil, &LayerError{Layer: last, Reason: fmt.Sprintf("is the last layer and outputs %v, want a flat vector of at least 2 logits", s)}
	}
	return shapes, params, nil
}
