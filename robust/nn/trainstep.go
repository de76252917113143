package nn

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// LossKind selects a training loss.
type LossKind int

const (
	// HardLabels is the mean cross-entropy of softmax(z/T) against Labels.
	HardLabels LossKind = iota
	// SoftTargets is the mean cross-entropy of softmax(z/T) against the
	// probabilities in Soft: the student loss of defensive distillation
	// (Papernot et al. 2016).
	SoftTargets
	// TRADES is mean CE(z(x), y) + Beta * KL(softmax(z(x)) || softmax(z(Adv)))
	// (Zhang et al. 2019), differentiated through both forward passes.
	TRADES
)

// TrainLoss is the objective of one training step. Losses are means over
// the batch.
type TrainLoss struct {
	Kind   LossKind
	Labels []int // HardLabels and TRADES
	// Soft holds N x K target probabilities, SoftTargets only.
	Soft *tensor.Dense
	// Temperature divides the logits of HardLabels and SoftTargets. If 0, 1
	// is used.
	Temperature float64
	// Adv is the adversarial batch of TRADES, shaped like x.
	Adv *tensor.Dense
	// Beta weighs the TRADES robustness term; it must be > 0.
	Beta float64
	// Seed draws the dropout masks of this step.
	Seed uint64
}

// StepResult is what one training step computed.
type StepResult struct {
	// Loss is the mean training loss of the batch.
	Loss float64
	// Grads holds the gradient of Loss for every parameter, in order.
	Grads []Param
	// Predicted holds the class each example of x got during the step
	// (with dropout on), for training accuracy at no extra cost.
	Predicted []int
}

// TrainStep computes the training loss of the batch x with dropout on, its
// gradient with respect to every parameter, and the predictions made on
// the way. It does not change the weights: apply the gradients with Update.
func (m *Model) TrainStep(ctx context.Context, x *tensor.Dense, loss TrainLoss) (StepResult, error) {
	n, xin, err := m.input(x)
	if err != nil {
		return StepResult{}, err
	}
	pred := make([]int, n)
	k := m.NumClasses()
	t := loss.Temperature
	if t == 0 {
		t = 1
	}
	if !(t > 0) || math.IsInf(t, 0) {
		return StepResult{}, fmt.Errorf("nn: %w: Temperature %v, want finite and > 0", robust.ErrConfig, loss.Temperature)
	}
	var soft []float64
	var adv *tensor.Dense
	switch loss.Kind {
	case HardLabels:
		if err := checkTrainLabels(loss.Labels, n, k); err != nil {
			return StepResult{}, err
		}
	case SoftTargets:
		var err error
		if soft, err = tensors.Float64s(loss.Soft); err != nil {
			return StepResult{}, fmt.Errorf("nn: TrainLoss.Soft: %w", err)
		}
		obj := robust.Objective{Kind: robust.KL, Reference: soft}
		if err := obj.Validate(n, k); err != nil {
			return StepResult{}, fmt.Errorf("nn: TrainLoss.Soft: %w", err)
		}
	case TRADES:
		if err := checkTrainLabels(loss.Labels, n, k); err != nil {
			return StepResult{}, err
		}
		if !(loss.Beta > 0) || math.IsInf(loss.Beta, 0) {
			return StepResult{}, fmt.Errorf("nn: %w: TRADES Beta %v, want finite and > 0", robust.ErrConfig, loss.Beta)
		}
		if t != 1 {
			return StepResult{}, fmt.Errorf("nn: %w: TRADES takes no Temperature", robust.ErrConfig)
		}
		if loss.Adv == nil || !sameShape(loss.Adv.Shape(), x.Shape()) {
			return StepResult{}, fmt.Errorf("nn: %w: TRADES Adv must have the shape of x %v", robust.ErrShape, x.Shape())
		}
		if _, adv, err = m.input(loss.Adv); err != nil {
			return StepResult{}, fmt.Errorf("nn: TRADES Adv: %w", err)
		}
	default:
		return StepResult{}, fmt.Errorf("nn: %w: unknown loss kind %d", robust.ErrConfig, int(loss.Kind))
	}

	size := m.spec.Input[0] * m.spec.Input[1] * m.spec.Input[2]
	var chunks []engine.TrainChunk
	for _, r := range engine.Split(n, m.net.Workers()) {
		a, b := r[0], r[1]
		c := engine.TrainChunk{X: rows(xin, a, b, size)}
		inv := 1 / float64(n)
		switch loss.Kind {
		case HardLabels:
			labels := loss.Labels[a:b]
			c.Loss = func(z []float64, rows, k int, l, g []float64) error {
				argmaxRows(z, rows, k, pred[a:b])
				temperedCE(z, rows, k, t, inv, func(i, j int) float64 {
					if j == labels[i] {
						return 1
					}
					return 0
				}, l, g)
				return nil
			}
		case SoftTargets:
			q := soft[a*k : b*k]
			c.Loss = func(z []float64, rows, k int, l, g []float64) error {
				argmaxRows(z, rows, k, pred[a:b])
				temperedCE(z, rows, k, t, inv, func(i, j int) float64 { return q[i*k+j] }, l, g)
				return nil
			}
		case TRADES:
			c.X = concatRows(c.X, rows(adv, a, b, size))
			labels := loss.Labels[a:b]
			c.Loss = func(z []float64, rows, k int, l, g []float64) error {
				argmaxRows(z, rows/2, k, pred[a:b]) // the clean rows
				tradesLoss(z, rows/2, k, labels, loss.Beta, inv, l, g)
				return nil
			}
		}
		chunks = append(chunks, c)
	}
	total, grads, err := m.net.Train(ctx, chunks, loss.Seed)
	if err != nil {
		return StepResult{}, fmt.Errorf("nn: %w", err)
	}
	out := make([]Param, len(grads))
	for i, g := range grads {
		out[i] = Param{Name: m.params[i].Name, Shape: append([]int(nil), m.params[i].Shape...), Value: g}
	}
	return StepResult{Loss: total, Grads: out, Predicted: pred}, nil
}

// argmaxRows writes the index of the largest logit of each of n rows.
func argmaxRows(z []float64, n, k int, out []int) {
	for i := 0; i < n; i++ {
		best := 0
		for j := 1; j < k; j++ {
			if z[i*k+j] > z[i*k+best] {
				best = j
			}
		}
		out[i] = best
	}
}

func checkTrainLabels(labels []int, n, k int) error {
	if len(labels) != n {
		return fmt.Errorf("nn: %w: %d labels for %d examples", robust.ErrShape, len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return fmt.Errorf("nn: %w: label[%d] = %d, want [0, %d)", robust.ErrLabel, i, y, k)
		}
	}
	return nil
}

// rows returns a view of rows [a, b) of x.
func rows(x *tensor.Dense, a, b, size int) *tensor.Dense {
	s := x.Shape().Clone()
	s[0] = b - a
	switch d := x.Data().(type) {
	case []float32:
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d[a*size:b*size]))
	default:
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(x.Data().([]float64)[a*size:b*size]))
	}
}

// concatRows stacks a over b.
func concatRows(a, b *tensor.Dense) *tensor.Dense {
	s := a.Shape().Clone()
	s[0] += b.Shape()[0]
	switch d := a.Data().(type) {
	case []float32:
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(append(append([]float32(nil), d...), b.Data().([]float32)...)))
	default:
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(append(append([]float64(nil), a.Data().([]float64)...), b.Data().([]float64)...)))
	}
}

// temperedCE is scale * CE(softmax(z/t), q) per row and its gradient with
// respect to z: scale * (softmax(z/t) - q) / t.
func temperedCE(z []float64, n, k int, t, scale float64, q func(i, j int) float64, loss, grad []float64) {
	u := make([]float64, k)
	lp := make([]float64, k)
	for i := 0; i < n; i++ {
		for j := range u {
			u[j] = z[i*k+j] / t
		}
		softmax.Log(u, lp)
		l := 0.0
		for j := range lp {
			qj := q(i, j)
			l -= qj * lp[j]
			grad[i*k+j] = scale * (math.Exp(lp[j]) - qj) / t
		}
		loss[i] = scale * l
	}
}

// tradesLoss handles 2m rows: m clean rows, then their m adversarial rows.
// Row i's loss is scale*(CE(z_i, y_i) + beta*KL(p_i || p'_i)); adversarial
// rows carry no loss of their own but receive the KL gradient.
func tradesLoss(z []float64, m, k int, labels []int, beta, scale float64, loss, grad []float64) {
	lp := make([]float64, k)
	lq := make([]float64, k)
	for i := 0; i < m; i++ {
		softmax.Log(z[i*k:(i+1)*k], lp)
		softmax.Log(z[(m+i)*k:(m+i+1)*k], lq)
		kl := 0.0
		for j := range lp {
			kl += math.Exp(lp[j]) * (lp[j] - lq[j])
		}
		loss[i] = scale * (-lp[labels[i]] + beta*kl)
		loss[m+i] = 0
		gc := grad[i*k : (i+1)*k]
		ga := grad[(m+i)*k : (m+i+1)*k]
		for j := range lp {
			p, q := math.Exp(lp[j]), math.Exp(lq[j])
			gc[j] = scale * (p + beta*p*(lp[j]-lq[j]-kl))
			ga[j] = scale * beta * (q - p)
		}
		gc[labels[i]] -= scale
	}
}
