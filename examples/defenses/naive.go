package main

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
)

// The naive gradients this demo shows the cost of. defense.Protect offers
// none of them: each makes a defense look more robust than it is. They are
// built here from the public API.

// naive is a protected model attacked with a naive gradient: it predicts
// as the protected model does, and lossGrad replaces its LossGrad.
type naive struct {
	*defense.Protected
	lossGrad func(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error)
}

func (n naive) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	return n.lossGrad(ctx, x, obj)
}

// shattered reports the gradient automatic differentiation gives through
// JPEG's and BitDepth's rounding: zero ("shattered gradients", Athalye,
// Carlini and Wagner, ICML 2018). Its losses are p's.
func shattered(p *defense.Protected) naive {
	return naive{p, func(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
		l, g, err := p.LossGrad(ctx, x, obj)
		if err != nil {
			return nil, nil, err
		}
		return l, tensor.New(tensor.WithShape(g.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
	}}
}

// unprocessed reports the undefended model's loss and gradient at x, as if
// there were no preprocessing: a transfer attack from the undefended model.
func unprocessed(p *defense.Protected, m robust.Differentiable) naive {
	return naive{p, m.LossGrad}
}

// identityBackward hides a preprocessor's backward passes, so that Protect
// carries gradients through it by the identity: the simplest BPDA, weaker
// than JPEG's smooth backward pass.
type identityBackward struct{ defense.Preprocessor }
