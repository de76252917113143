package robust

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Sentinel errors. Functions wrap them with %w and say which value was wrong.
var (
	// ErrShape reports a tensor whose shape or dtype does not fit the call.
	ErrShape = errors.New("robust: bad shape")
	// ErrLabel reports a label or target class outside [0, NumClasses).
	ErrLabel = errors.New("robust: label out of range")
	// ErrNoGradient reports a model that cannot provide gradients to a
	// gradient-based attack or trainer.
	ErrNoGradient = errors.New("robust: model provides no gradients")
	// ErrNonFinite reports a NaN or infinite value where a finite one is
	// required (inputs, losses, gradients).
	ErrNonFinite = errors.New("robust: non-finite value")
	// ErrBounds reports an input outside the model's Bounds.
	ErrBounds = errors.New("robust: input out of bounds")
	// ErrConfig reports an invalid hyper-parameter or option.
	ErrConfig = errors.New("robust: invalid configuration")
)

// Bounds is the valid input range of a model, for example {0, 1} for images
// scaled to the unit interval. Attacks clip their outputs to it.
type Bounds struct{ Min, Max float32 }

// UnitBounds is [0, 1], the range of every image in this module's datasets.
var UnitBounds = Bounds{Min: 0, Max: 1}

// Validate reports whether b is a finite, non-empty interval.
func (b Bounds) Validate() error {
	if isNaNorInf32(b.Min) || isNaNorInf32(b.Max) || !(b.Min < b.Max) {
		return fmt.Errorf("robust: bounds [%v, %v] must be finite with Min < Max: %w", b.Min, b.Max, ErrConfig)
	}
	return nil
}

// Width is Max - Min.
func (b Bounds) Width() float32 { return b.Max - b.Min }

// Classifier maps a batch of inputs to logits.
type Classifier interface {
	// Logits returns the N x K float32 logits of the N x C x H x W batch x.
	// It never mutates x.
	Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error)
	// NumClasses is K.
	NumClasses() int
	// Bounds is the valid input range.
	Bounds() Bounds
}

// Differentiable is a Classifier that can differentiate an objective with
// respect to its input. Gradients are always taken with the model in
// evaluation mode (no dropout, fixed normalisation statistics).
type Differentiable interface {
	Classifier
	// LossGrad returns each example's objective value and the gradient of
	// their sum with respect to x, with the shape of x. It never mutates x.
	// Ascending the objective is always the attacker's direction.
	LossGrad(ctx context.Context, x *tensor.Dense, obj Objective) (loss []float32, grad *tensor.Dense, err error)
}

// LogitsVJPer is an optional interface of a Differentiable that returns
// vector-Jacobian products of its logits directly: the gradient with
// respect to x of sum_i <g_i, z_i(x)>, for any N x K cotangents g in
// row-major order. Wrappers that differentiate a function of a model's
// logits (defense.Ensemble, defense.Reject) use it when the model offers
// it: one backward pass over the batch, where LossGrad alone needs one over
// twice the batch.
type LogitsVJPer interface {
	LogitsVJP(ctx context.Context, x *tensor.Dense, g []float64) (*tensor.Dense, error)
}

// Attack perturbs a batch so that a model misclassifies it. Every attack in
// this module returns an x_adv inside its epsilon ball around x and inside
// m.Bounds(), never mutates x, and is deterministic for a given seed.
type Attack interface {
	Perturb(ctx context.Context, m Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error)
}

// Dataset is a finite, indexable collection of labelled images.
type Dataset interface {
	// Len is the number of examples.
	Len() int
	// Batch returns the examples at the given indices as a float32 NCHW
	// tensor and their labels. It returns an error for an index out of range.
	Batch(idx []int) (x *tensor.Dense, y []int, err error)
}

func isNaNorInf32(v float32) bool {
	f := float64(v)
	return math.IsNaN(f) || math.IsInf(f, 0)
}

// Reseedable is implemented by randomized attacks. WithSeed returns a copy of
// the attack that draws its randomness from seed, leaving the receiver
// unchanged. Trainers use it to give every batch fresh random starts while
// staying reproducible from one seed.
type Reseedable interface {
	WithSeed(seed uint64) Attack
}
