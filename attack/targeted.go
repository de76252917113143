package attack

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Targeted is implemented by attacks that can steer each example toward a
// chosen class. targets[i] is the class example i should be classified as;
// y still holds the true labels (some objectives, such as targeted DLR, use
// both). Success means the target wins the argmax. A target equal to the
// true label is allowed; such an example counts as reached when the model
// classifies it correctly.
//
// The result obeys the robust.Attack contract: inside the Eps ball and the
// model's Bounds, a fresh tensor, x untouched, deterministic for a seed.
type Targeted interface {
	PerturbTargeted(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int) (*tensor.Dense, error)
}
