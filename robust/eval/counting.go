package eval

import (
	"context"
	"sync/atomic"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// counter counts the model calls made through it. It is safe for concurrent
// use.
type counter struct {
	logits, logitsImages atomic.Int64
	grad, gradImages     atomic.Int64
}

func (c *counter) calls() Calls {
	return Calls{
		Logits: c.logits.Load(), LogitsImages: c.logitsImages.Load(),
		Grad: c.grad.Load(), GradImages: c.gradImages.Load(),
	}
}

func batchLen(x *tensor.Dense) int64 {
	if x == nil || len(x.Shape()) == 0 {
		return 0
	}
	return int64(x.Shape()[0])
}

// countingClassifier counts the Logits calls on a Classifier. It hides any
// other method of the model on purpose: attacks see a Differentiable only
// through countingDifferentiable, and only when the model is one.
type countingClassifier struct {
	m robust.Classifier
	c *counter
}

func (m countingClassifier) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	m.c.logits.Add(1)
	m.c.logitsImages.Add(batchLen(x))
	return m.m.Logits(ctx, x)
}

func (m countingClassifier) NumClasses() int       { return m.m.NumClasses() }
func (m countingClassifier) Bounds() robust.Bounds { return m.m.Bounds() }

// countingDifferentiable also counts LossGrad calls.
type countingDifferentiable struct {
	countingClassifier
	d robust.Differentiable
}

func (m countingDifferentiable) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	m.c.grad.Add(1)
	m.c.gradImages.Add(batchLen(x))
	return m.d.LossGrad(ctx, x, obj)
}

// counted wraps m so that calls through the result are counted in c. The
// result is a Differentiable exactly when m is.
func counted(m robust.Classifier, c *counter) robust.Classifier {
	cc := countingClassifier{m: m, c: c}
	if d, ok := m.(robust.Differentiable); ok {
		return countingDifferentiable{countingClassifier: cc, d: d}
	}
	return cc
}
