package defense

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/robust"
)

// Chain applies its preprocessors in order, each to the output of the one
// before. Stage j draws from a seed hashed from (seed, j), so the stages of a chain
// never share random numbers. A Chain is randomized when any stage is.
//
// Backward is BPDA for the whole chain (Athalye, Carlini and Wagner,
// "Obfuscated Gradients Give a False Sense of Security", ICML 2018,
// https://arxiv.org/abs/1802.00420): walking back from the last stage, each
// DifferentiablePreprocessor applies its exact backward pass at its own
// input (the output of the stage before it, recomputed), and every other
// stage passes the gradient through unchanged.
type Chain []Preprocessor

var _ DifferentiablePreprocessor = Chain(nil)

// Validate reports an empty chain, a nil stage or an invalid stage.
func (c Chain) Validate() error {
	if len(c) == 0 {
		return configErr("Chain is empty")
	}
	for j, p := range c {
		if p == nil {
			return configErr("Chain[%d] is nil", j)
		}
		if err := p.Validate(); err != nil {
			return stageErr(j, err)
		}
	}
	return nil
}

// Randomized reports whether any stage is randomized.
func (c Chain) Randomized() bool {
	for _, p := range c {
		if p != nil && p.Randomized() {
			return true
		}
	}
	return false
}

// stageSeed is the seed stage j of a chain receives.
func stageSeed(seed uint64, j int) uint64 { return mix.Hash(seed, 0xc4a1, uint64(j)) }

// Apply implements Preprocessor.
func (c Chain) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64) (*tensor.Dense, error) {
	xs, err := c.forward(ctx, x, b, seed)
	if err != nil {
		return nil, err
	}
	return xs[len(xs)-1], nil
}

// forward returns the input of every stage followed by the chain's output.
func (c Chain) forward(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64) ([]*tensor.Dense, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	xs := make([]*tensor.Dense, 0, len(c)+1)
	xs = append(xs, x)
	for j, p := range c {
		out, err := p.Apply(ctx, xs[j], b, stageSeed(seed, j))
		if err != nil {
			return nil, err
		}
		xs = append(xs, out)
	}
	return xs, nil
}

// Backward implements DifferentiablePreprocessor with BPDA: see Chain.
func (c Chain) Backward(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	xs, err := c.forward(ctx, x, b, seed)
	if err != nil {
		return nil, err
	}
	return c.backward(ctx, xs, b, seed, grad)
}

// backward runs the backward pass given the stage inputs of forward.
func (c Chain) backward(ctx context.Context, xs []*tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	if grad == nil || !grad.Shape().Eq(xs[0].Shape()) {
		return nil, fmt.Errorf("defense: Chain.Backward: the gradient must have the input's shape %v: %w", xs[0].Shape(), robust.ErrShape)
	}
	g := grad
	for j := len(c) - 1; j >= 0; j-- {
		var err error
		sd := stageSeed(seed, j)
		switch s := c[j].(type) {
		case Chain:
			var inner []*tensor.Dense
			if inner, err = s.forward(ctx, xs[j], b, sd); err == nil {
				g, err = s.backward(ctx, inner, b, sd, g)
			}
		case DifferentiablePreprocessor:
			g, err = s.Backward(ctx, xs[j], b, sd, g)
		case ApproximatedPreprocessor:
			g, err = s.ApproxBackward(ctx, xs[j], b, sd, g)
		default:
			// BPDA: the identity stands in for the stage's derivative.
		}
		if err != nil {
			return nil, err
		}
	}
	if g == grad {
		g = grad.Clone().(*tensor.Dense)
	}
	return g, nil
}
