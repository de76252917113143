package defense

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// logitsVJP returns the gradient with respect to x of sum_i <g_i, z_i(x)>,
// where z_i are m's logits of example i and g holds one cotangent row of k
// values per example. The rows are first centred (made to sum to zero):
// every composition of softmax-based quantities that the wrappers of this
// package differentiate is invariant to adding a constant to an example's
// logits, so its cotangents sum to zero anyway and centring only removes
// rounding.
//
// robust.Differentiable offers gradients of objectives, not of arbitrary
// cotangents, so logitsVJP borrows the KL objective, whose gradient with
// respect to the logits is softmax(z) - r for a reference distribution r.
// Splitting a centred row g = g+ - g- into its positive and negative parts,
// both of mass S, the references r1 = g-/S and r2 = g+/S are distributions
// and (softmax(z) - r1) - (softmax(z) - r2) = g/S exactly, whatever the
// model's probabilities. One LossGrad call on 2N examples (x twice, with r1
// and then r2) thus gives J^T g = S (G1 - G2) without knowing softmax(z).
// Cost: one LossGrad call on twice the batch, or one LogitsVJP call when m
// is a robust.LogitsVJPer.
func logitsVJP(ctx context.Context, m robust.Differentiable, x *tensor.Dense, g []float64, k int) ([]float64, error) {
	n, d, err := tensors.Images(x)
	if err != nil {
		return nil, err
	}
	if v, ok := m.(robust.LogitsVJPer); ok {
		gr, err := v.LogitsVJP(ctx, x, g)
		if err != nil {
			return nil, err
		}
		out, err := tensors.Float64s(gr)
		if err != nil {
			return nil, err
		}
		if len(out) != len(d) {
			return nil, fmt.Errorf("model returned a vector-Jacobian product of shape %v for input %v: %w", gr.Shape(), x.Shape(), robust.ErrShape)
		}
		return out, nil
	}
	size := len(d) / n
	ref := make([]float64, 2*n*k)
	mass := make([]float64, n)
	for i := 0; i < n; i++ {
		row := g[i*k : (i+1)*k]
		mean := 0.0
		for _, v := range row {
			mean += v
		}
		mean /= float64(k)
		neg, pos := ref[i*k:(i+1)*k], ref[(n+i)*k:(n+i+1)*k]
		s := 0.0
		for j, v := range row {
			if c := v - mean; c > 0 {
				pos[j], s = c, s+c
			} else {
				neg[j] = -c
			}
		}
		sneg := 0.0
		for _, v := range neg {
			sneg += v
		}
		if s == 0 || sneg == 0 {
			// A zero row: equal references contribute nothing.
			for j := range neg {
				neg[j], pos[j] = 1/float64(k), 1/float64(k)
			}
			continue
		}
		for j := range neg {
			neg[j] /= sneg
			pos[j] /= s
		}
		mass[i] = (s + sneg) / 2 // equal up to rounding
	}
	xx := make([]float32, 2*len(d))
	copy(xx, d)
	copy(xx[len(d):], d)
	shape := x.Shape().Clone()
	shape[0] = 2 * n
	obj := robust.Objective{Kind: robust.KL, Reference: ref}
	_, gr, err := m.LossGrad(ctx, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(xx)), obj)
	if err != nil {
		return nil, err
	}
	gd, err := tensors.Float64s(gr)
	if err != nil {
		return nil, err
	}
	if len(gd) != 2*len(d) {
		return nil, fmt.Errorf("model returned a gradient of shape %v for %v inputs: %w", gr.Shape(), shape, robust.ErrShape)
	}
	out := make([]float64, len(d))
	for i := 0; i < n; i++ {
		for j := 0; j < size; j++ {
			out[i*size+j] = mass[i] * (gd[i*size+j] - gd[(n+i)*size+j])
		}
	}
	return out, nil
}
