package defense

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// The naive gradients that Protect does not offer, built from the public
// API, for the tests that show what they hide (examples/defenses has the
// same wrappers).

// identityBackward hides a preprocessor's backward passes, so that Protect
// carries gradients through it by the identity: BPDA with the identity in
// place of JPEG's smooth backward pass.
type identityBackward struct{ Preprocessor }

// shattered is a protected model whose LossGrad reports the gradient
// automatic differentiation gives through JPEG's rounding: zero. Its losses
// are the protected model's.
type shattered struct{ *Protected }

func (s shattered) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	l, g, err := s.Protected.LossGrad(ctx, x, obj)
	if err != nil {
		return nil, nil, err
	}
	return l, tensor.New(tensor.WithShape(g.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
}
