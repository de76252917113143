package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// ensembled is the average of several classifiers, made by Ensemble or
// EnsembleLogits.
type ensembled struct {
	models []robust.Classifier
	logits bool // average logits instead of probabilities
	k      int
	bounds robust.Bounds
}

var _ robust.Differentiable = (*ensembled)(nil)

// Ensemble returns the classifier whose class probabilities are the mean of
// the members' softmax probabilities; its logits are the logarithms of
// those means. Members must agree on NumClasses and Bounds. The result is
// a robust.Differentiable, so an attack sees the whole ensemble at once, and
// is safe for concurrent use when its members are.
//
// LossGrad differentiates the objective at the ensemble's logits exactly
// and needs every member to implement robust.Differentiable (otherwise it
// returns an error wrapping robust.ErrNoGradient). Cost: per member, one
// Logits call and one LogitsVJP call if it is a robust.LogitsVJPer (as
// nn.Model is), else one LossGrad call on twice the batch (see the package
// documentation on gradients of wrappers).
func Ensemble(models ...robust.Classifier) (robust.Differentiable, error) {
	return ensemble("Ensemble", false, models)
}

// EnsembleLogits is Ensemble with the mean of the members' logits in place
// of the mean of their probabilities.
func EnsembleLogits(models ...robust.Classifier) (robust.Differentiable, error) {
	return ensemble("EnsembleLogits", true, models)
}

func ensemble(name string, logits bool, models []robust.Classifier) (robust.Differentiable, error) {
	if len(models) == 0 {
		return nil, configErr("%s: no models", name)
	}
	for i, m := range models {
		if m == nil {
			return nil, configErr("%s: model %d is nil", name, i)
		}
	}
	k, b := models[0].NumClasses(), models[0].Bounds()
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("defense: %s: model 0: %w", name, err)
	}
	if k < 2 {
		return nil, configErr("%s: model 0 has %d classes, want at least 2", name, k)
	}
	for i, m := range models[1:] {
		if m.NumClasses() != k || m.Bounds() != b {
			return nil, configErr("%s: model %d has %d classes and bounds %v, model 0 has %d and %v", name, i+1, m.NumClasses(), m.Bounds(), k, b)
		}
	}
	return &ensembled{models: append([]robust.Classifier(nil), models...), logits: logits, k: k, bounds: b}, nil
}

// NumClasses implements robust.Classifier.
func (e *ensembled) NumClasses() int { return e.k }

// Bounds implements robust.Classifier.
func (e *ensembled) Bounds() robust.Bounds { return e.bounds }

// forward returns every member's logits and the ensemble's, n x k each.
func (e *ensembled) forward(ctx context.Context, x *tensor.Dense) (n int, zs [][]float64, out []float64, err error) {
	n, _, err = tensors.CheckImages(x, e.bounds)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("defense: ensembled: %w", err)
	}
	k := e.k
	zs = make([][]float64, len(e.models))
	for mi, m := range e.models {
		z, err := m.Logits(ctx, x)
		if err != nil {
			return 0, nil, nil, err
		}
		if zs[mi], err = logitRows(z, k); err != nil || len(zs[mi]) != n*k {
			return 0, nil, nil, fmt.Errorf("defense: ensembled: model %d: logits shape %v for %d inputs: %w", mi, z.Shape(), n, robust.ErrShape)
		}
	}
	out = make([]float64, n*k)
	inv := 1 / float64(len(e.models))
	if e.logits {
		for _, z := range zs {
			for j, v := range z {
				out[j] += inv * v
			}
		}
		return n, zs, out, nil
	}
	// log mean_m softmax(z_m) = logsumexp_m(logsoftmax(z_m)) - log M,
	// computed per class without leaving log space.
	lps := make([][]float64, len(zs))
	for mi, z := range zs {
		lps[mi] = softmax.LogRows(z, n, k)
	}
	for j := range out {
		mx := math.Inf(-1)
		for _, lp := range lps {
			mx = math.Max(mx, lp[j])
		}
		s := 0.0
		for _, lp := range lps {
			s += math.Exp(lp[j] - mx)
		}
		out[j] = mx + math.Log(s*inv)
	}
	return n, zs, out, nil
}

// Logits implements robust.Classifier.
func (e *ensembled) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, _, out, err := e.forward(ctx, x)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(n, e.k), tensor.WithBacking(to32(out))), nil
}

// LossGrad implements robust.Differentiable.
func (e *ensembled) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	ds := make([]robust.Differentiable, len(e.models))
	for i, m := range e.models {
		d, ok := m.(robust.Differentiable)
		if !ok {
			return nil, nil, fmt.Errorf("defense: ensembled.LossGrad: model %d: %w", i, robust.ErrNoGradient)
		}
		ds[i] = d
	}
	n, zs, ell, err := e.forward(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	k := e.k
	if err := obj.Validate(n, k); err != nil {
		return nil, nil, fmt.Errorf("defense: ensembled.LossGrad: %w", err)
	}
	loss, gEll := make([]float64, n), make([]float64, n*k)
	obj.Eval(ell, n, k, loss, gEll)
	inv := 1 / float64(len(e.models))
	var grad []float64
	cot := make([]float64, n*k)
	for mi, d := range ds {
		if e.logits {
			for j, v := range gEll {
				cot[j] = inv * v
			}
		} else {
			// ell_j = log mean_m p_mj, so d ell_j / d z_mi =
			// (1/M) (p_mj / pbar_j) (delta_ij - p_mi).
			lp := softmax.LogRows(zs[mi], n, k)
			for i := 0; i < n; i++ {
				a := cot[i*k : (i+1)*k]
				sum := 0.0
				for j := range a {
					a[j] = inv * gEll[i*k+j] * math.Exp(lp[i*k+j]-ell[i*k+j])
					sum += a[j]
				}
				for j := range a {
					a[j] -= math.Exp(lp[i*k+j]) * sum
				}
			}
		}
		g, err := logitsVJP(ctx, d, x, cot, k)
		if err != nil {
			return nil, nil, fmt.Errorf("defense: ensembled.LossGrad: model %d: %w", mi, err)
		}
		if grad == nil {
			grad = g
			continue
		}
		for j, v := range g {
			grad[j] += v
		}
	}
	return to32(loss), newLike(x, to32(grad)), nil
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}
