package train

import (
	"context"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// tradesAdversary is the TRADES inner maximisation: starting from
// x + 0.001*N(0, 1), Linf PGD steps of sign(grad) on KL(f(x) || f(x')),
// each followed by projection onto the eps-ball around x and the model's
// bounds.
func tradesAdversary(ctx context.Context, m Model, x *tensor.Dense, cfg TRADESConfig, seed uint64) (*tensor.Dense, error) {
	n, xd, err := tensors.Images(x)
	if err != nil {
		return nil, err
	}
	z, err := m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	zd, err := tensors.Float64s(z)
	if err != nil {
		return nil, err
	}
	k := len(zd) / n
	ref := make([]float64, len(zd))
	for i := 0; i < n; i++ {
		softmax.Into(zd[i*k:(i+1)*k], ref[i*k:(i+1)*k])
	}
	obj := robust.Objective{Kind: robust.KL, Reference: ref}
	b := m.Bounds()
	eps := float32(cfg.Eps)
	step := float32(cfg.StepSize)
	rng := rand.New(rand.NewPCG(seed, 0x7ade5))
	adv := make([]float32, len(xd))
	for i, v := range xd {
		adv[i] = project(v+float32(0.001*rng.NormFloat64()), v, eps, b)
	}
	xa := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(adv))
	for s := 0; s < cfg.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, g, err := m.LossGrad(ctx, xa, obj)
		if err != nil {
			return nil, err
		}
		gd := g.Data().([]float32)
		for i := range adv {
			adv[i] = project(adv[i]+step*sign(gd[i]), xd[i], eps, b)
		}
	}
	return xa, nil
}

func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// project clamps v to [x-eps, x+eps] and then to the bounds.
func project(v, x, eps float32, b robust.Bounds) float32 {
	v = min(max(v, x-eps), x+eps)
	return min(max(v, b.Min), b.Max)
}
