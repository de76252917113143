// Package tensors checks and reads the gorgonia tensors that cross
// gorobust's API: images (N x C x H x W float32, contiguous) and logits.
// Errors wrap robust's sentinels.
package tensors

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Float64s returns the values of a float32 or float64 dense tensor as a new
// float64 slice in row-major order.
func Float64s(t *tensor.Dense) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("nil tensor: %w", robust.ErrShape)
	}
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []float64:
		return append([]float64(nil), d...), nil
	}
	return nil, fmt.Errorf("dtype %v, want float32 or float64: %w", t.Dtype(), robust.ErrShape)
}

// Images checks that x is a float32 N x C x H x W tensor with N > 0 and
// returns N and its backing slice (not a copy: callers must not write to it
// when x belongs to someone else).
func Images(x *tensor.Dense) (int, []float32, error) {
	if x == nil {
		return 0, nil, fmt.Errorf("nil input: %w", robust.ErrShape)
	}
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || s[1] < 1 || s[2] < 1 || s[3] < 1 {
		return 0, nil, fmt.Errorf("input shape %v, want N x C x H x W: %w", s, robust.ErrShape)
	}
	d, ok := x.Data().([]float32)
	if !ok {
		return 0, nil, fmt.Errorf("input dtype %v, want float32: %w", x.Dtype(), robust.ErrShape)
	}
	if !x.IsNativelyAccessible() || x.IsMaterializable() || len(d) != s.TotalSize() {
		return 0, nil, fmt.Errorf("input must be a contiguous dense tensor: %w", robust.ErrShape)
	}
	return s[0], d, nil
}

// CheckImages is Images plus a check that every value is finite and inside b.
func CheckImages(x *tensor.Dense, b robust.Bounds) (int, []float32, error) {
	n, d, err := Images(x)
	if err != nil {
		return 0, nil, err
	}
	for i, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, nil, fmt.Errorf("input[%d] = %v: %w", i, v, robust.ErrNonFinite)
		}
		if v < b.Min || v > b.Max {
			return 0, nil, fmt.Errorf("input[%d] = %v outside [%v, %v]: %w", i, v, b.Min, b.Max, robust.ErrBounds)
		}
	}
	return n, d, nil
}

// Argmax returns the predicted class of each row of N x K logits.
func Argmax(logits *tensor.Dense) ([]int, error) {
	s := logits.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("logits shape %v, want N x K: %w", s, robust.ErrShape)
	}
	z, err := Float64s(logits)
	if err != nil {
		return nil, err
	}
	n, k := s[0], s[1]
	out := make([]int, n)
	for i := range out {
		best := 0
		for j := 1; j < k; j++ {
			if z[i*k+j] > z[i*k+best] {
				best = j
			}
		}
		out[i] = best
	}
	return out, nil
}
