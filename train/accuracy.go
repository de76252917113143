package train

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Accuracy returns the clean accuracy of m on the examples idx of ds and,
// when atk is not nil, the accuracy on atk's adversarial examples (clean
// mistakes count as not robust).
func Accuracy(ctx context.Context, m robust.Classifier, ds robust.Dataset, idx []int, atk robust.Attack, batch int) (clean, rob float64, err error) {
	if len(idx) == 0 || batch < 1 {
		return 0, 0, configErr("Accuracy of %d examples in batches of %d, want at least one example and a batch >= 1", len(idx), batch)
	}
	nc, nr := 0, 0
	for a := 0; a < len(idx); a += batch {
		x, y, err := ds.Batch(idx[a:min(a+batch, len(idx))])
		if err != nil {
			return 0, 0, err
		}
		okClean, err := correct(ctx, m, x, y)
		if err != nil {
			return 0, 0, err
		}
		okAdv := okClean
		if atk != nil {
			xa, err := atk.Perturb(ctx, m, x, y)
			if err != nil {
				return 0, 0, err
			}
			if okAdv, err = correct(ctx, m, xa, y); err != nil {
				return 0, 0, err
			}
		}
		for i := range y {
			if okClean[i] {
				nc++
				if okAdv[i] {
					nr++
				}
			}
		}
	}
	return float64(nc) / float64(len(idx)), float64(nr) / float64(len(idx)), nil
}

func correct(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) ([]bool, error) {
	z, err := m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	p, err := tensors.Argmax(z)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(y))
	for i := range y {
		out[i] = p[i] == y[i]
	}
	return out, nil
}
