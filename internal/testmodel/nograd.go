package testmodel

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// NoGrad exposes only the Classifier methods of Model, hiding any gradients:
// a stand-in for a black-box model behind an API.
type NoGrad struct{ Model robust.Classifier }

var _ robust.Classifier = NoGrad{}

// Logits implements robust.Classifier.
func (m NoGrad) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	return m.Model.Logits(ctx, x)
}

// NumClasses implements robust.Classifier.
func (m NoGrad) NumClasses() int { return m.Model.NumClasses() }

// Bounds implements robust.Classifier.
func (m NoGrad) Bounds() robust.Bounds { return m.Model.Bounds() }
