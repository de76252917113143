package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Param is a named parameter. Names follow PyTorch's nn.Sequential:
// "<layer index>.weight" and "<layer index>.bias". Dense weights are
// Out x In and convolution weights Out x In x Kernel x Kernel, as in PyTorch.
type Param struct {
	Name  string
	Shape []int
	// Value holds the values, float32 (or float64 for a Float64 model).
	Value *tensor.Dense
}

// ParamInfo describes a parameter without its values.
type ParamInfo struct {
	Name  string
	Shape []int
}

// ParamInfos describes the parameters in order.
func (m *Model) ParamInfos() []ParamInfo {
	out := make([]ParamInfo, len(m.params))
	for i, p := range m.params {
		out[i] = ParamInfo{Name: p.Name, Shape: append([]int(nil), p.Shape...)}
	}
	return out
}

// NumParams is the total number of parameter values.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Size()
	}
	return n
}

// Params returns a copy of every parameter, in order.
func (m *Model) Params() []Param {
	out := make([]Param, len(m.params))
	m.net.Read(func(ws []*tensor.Dense) {
		for i, w := range ws {
			out[i] = Param{Name: m.params[i].Name, Shape: append([]int(nil), m.params[i].Shape...), Value: w.Clone().(*tensor.Dense)}
		}
	})
	return out
}

// SetParams replaces every parameter. ps must name the model's parameters
// in order with their shapes; values may be float32 or float64 and must be
// finite. On error the model is unchanged.
func (m *Model) SetParams(ps []Param) error {
	if len(ps) != len(m.params) {
		return errorf(robust.ErrShape, "SetParams: %d parameters, want the model's %d", len(ps), len(m.params))
	}
	vals := make([][]float64, len(ps))
	for i, p := range ps {
		want := m.params[i]
		if p.Name != want.Name {
			return errorf(robust.ErrShape, "SetParams: ps[%d].Name = %q, want %q", i, p.Name, want.Name)
		}
		if p.Value == nil || !sameShape(p.Value.Shape(), want.Shape) {
			var got []int
			if p.Value != nil {
				got = p.Value.Shape()
			}
			return errorf(robust.ErrShape, "SetParams: parameter %s has shape %v, want %v", p.Name, got, want.Shape)
		}
		v, err := tensors.Float64s(p.Value)
		if err != nil {
			return fmt.Errorf("nn: SetParams: parameter %s: %w", p.Name, err)
		}
		for j, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return errorf(robust.ErrNonFinite, "SetParams: parameter %s[%d] = %v, want a finite value", p.Name, j, x)
			}
		}
		vals[i] = v
	}
	return m.net.Update(func(ws []*tensor.Dense) error {
		for i, w := range ws {
			switch d := w.Data().(type) {
			case []float32:
				for j, x := range vals[i] {
					d[j] = float32(x)
				}
			case []float64:
				copy(d, vals[i])
			}
		}
		return nil
	})
}

// Update calls fn with the live parameters under the model's write lock,
// for optimizers. fn may change values in place but not shapes, and must not
// keep the tensors after it returns. Every later Logits, LossGrad or
// TrainStep sees the new values.
func (m *Model) Update(fn func(ps []Param) error) error {
	return m.net.Update(func(ws []*tensor.Dense) error {
		ps := make([]Param, len(ws))
		for i, w := range ws {
			ps[i] = Param{Name: m.params[i].Name, Shape: m.params[i].Shape, Value: w}
		}
		return fn(ps)
	})
}

func sameShape(a []int, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
