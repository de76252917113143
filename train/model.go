package train

import (
	"context"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/nn"
)

// Model is what Fit trains: a robust.Differentiable (for the attacks that
// make training examples) that computes training steps and takes weight
// updates. *nn.Model implements it; the interface exists so that tests and
// wrappers can stand in for one.
type Model interface {
	robust.Differentiable
	// TrainStep computes the loss and parameter gradients of one batch
	// with dropout on, without changing the weights (nn.Model.TrainStep).
	TrainStep(ctx context.Context, x *tensor.Dense, loss nn.TrainLoss) (nn.StepResult, error)
	// Update applies fn to the weights.
	Update(fn func(ps []nn.Param) error) error
	// Params returns a copy of the weights; SetParams replaces them.
	Params() []nn.Param
	SetParams(ps []nn.Param) error
	// ParamInfos describes the weights.
	ParamInfos() []nn.ParamInfo
}

var _ Model = (*nn.Model)(nil)
