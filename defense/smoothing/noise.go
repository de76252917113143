package smoothing

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
)

// Noise is the training augmentation of randomized smoothing: Cohen et al.
// train the base classifier on inputs with N(0, Sigma^2) noise so that it
// classifies noisy copies well. Use its Augment method as
// train.Trainer.Augment:
//
//	tr := train.Trainer{Augment: smoothing.Noise{Sigma: 0.25}.Augment, ...}
//
// The noisy values are clipped to Bounds, as Smoothed clips its samples, so
// the base classifier trains on exactly the distribution it is certified
// on. Noise is defense.GaussianNoise; its draws are a function of seed and
// each example's values.
type Noise struct {
	// Sigma is the noise's standard deviation, finite and > 0; use the
	// sigma the classifier will be certified with.
	Sigma float64
	// Bounds is the input range the noisy values are clipped to. The zero
	// value means robust.UnitBounds.
	Bounds robust.Bounds
}

func (n Noise) bounds() robust.Bounds {
	if n.Bounds == (robust.Bounds{}) {
		return robust.UnitBounds
	}
	return n.Bounds
}

// Augment returns a noisy copy of x; x is not modified. It has the
// signature of train.Trainer.Augment.
func (n Noise) Augment(ctx context.Context, x *tensor.Dense, seed uint64) (*tensor.Dense, error) {
	out, err := defense.GaussianNoise{Sigma: n.Sigma}.Apply(ctx, x, n.bounds(), seed)
	if err != nil {
		return nil, fmt.Errorf("smoothing: Noise: %w", err)
	}
	return out, nil
}
