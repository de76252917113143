package robust

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Norm is the distance in which a perturbation budget eps is measured, per
// example, in pixel space. Attacks and evaluation share it. The zero Norm
// means LInf wherever a Norm is a configuration field.
type Norm int

const (
	// LInf bounds max_i |x_adv_i - x_i|.
	LInf Norm = iota + 1
	// L2 bounds sqrt(sum_i (x_adv_i - x_i)^2), the sum over all C*H*W
	// values of one example.
	L2
)

// String returns "linf" or "l2", the names used in reports.
func (n Norm) String() string {
	switch n {
	case LInf:
		return "linf"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// Validate reports whether n is zero (meaning LInf) or a known Norm.
func (n Norm) Validate() error {
	if n != 0 && n != LInf && n != L2 {
		return fmt.Errorf("robust: Norm = %d, want LInf or L2 (0 means LInf): %w", int(n), ErrConfig)
	}
	return nil
}

// MarshalText writes the name String returns.
func (n Norm) MarshalText() ([]byte, error) {
	if n != LInf && n != L2 {
		return nil, n.Validate()
	}
	return []byte(n.String()), nil
}

// UnmarshalText reads "linf" or "l2".
func (n *Norm) UnmarshalText(b []byte) error {
	switch string(b) {
	case "linf":
		*n = LInf
	case "l2":
		*n = L2
	default:
		return fmt.Errorf("robust: Norm = %q, want \"linf\" or \"l2\": %w", b, ErrConfig)
	}
	return nil
}

// Distance returns the norm of v - x for one example's values, computed in
// float64. A zero Norm means LInf. x and v must have the same length.
func (n Norm) Distance(x, v []float32) float64 {
	s := 0.0
	for j, xv := range x {
		diff := math.Abs(float64(v[j]) - float64(xv))
		if n == L2 {
			s += diff * diff
		} else {
			s = math.Max(s, diff)
		}
	}
	if n == L2 {
		s = math.Sqrt(s)
	}
	return s
}

// Distances returns Distance(x_i, xAdv_i) for each example of two float32
// N x C x H x W tensors of the same shape, for example to check an attack's
// output against its budget.
func (n Norm) Distances(x, xAdv *tensor.Dense) ([]float64, error) {
	if x == nil || xAdv == nil || !x.Shape().Eq(xAdv.Shape()) || x.Dims() != 4 {
		return nil, fmt.Errorf("robust: Norm.Distances of shapes %v and %v, want two equal N x C x H x W shapes: %w", shapeOf(x), shapeOf(xAdv), ErrShape)
	}
	a, okA := x.Data().([]float32)
	b, okB := xAdv.Data().([]float32)
	if !okA || !okB || len(a) != len(b) || len(a) != x.Shape().TotalSize() {
		return nil, fmt.Errorf("robust: Norm.Distances of %v and %v tensors, want contiguous float32: %w", x.Dtype(), xAdv.Dtype(), ErrShape)
	}
	rows := x.Shape()[0]
	if rows == 0 {
		return []float64{}, nil
	}
	d := len(a) / rows
	out := make([]float64, rows)
	for i := range out {
		out[i] = n.Distance(a[i*d:(i+1)*d], b[i*d:(i+1)*d])
	}
	return out, nil
}

func shapeOf(t *tensor.Dense) tensor.Shape {
	if t == nil {
		return nil
	}
	return t.Shape()
}
