package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Abstain is the prediction of an example a classifier declined to label.
const Abstain = -1

// Rejecting is a classifier that abstains when it is not confident, made by
// Reject. It is safe for concurrent use when the model is.
//
// To any code that only knows robust.Classifier, a Rejecting model has
// K+1 classes: its logits are the model's log-probabilities followed by
// log(threshold) in column K, so the argmax is K exactly when the model
// abstains. An abstention therefore never equals a true label: evaluators
// (eval.Evaluate, train.Accuracy) count it as not correct without knowing
// about rejection, and an attack that drives an example into abstention
// succeeds, as it should under that accounting. Predict and Score report
// abstentions explicitly.
type Rejecting struct {
	model     robust.Classifier
	threshold float64
}

var _ robust.Differentiable = (*Rejecting)(nil)

// Reject returns model with a reject option: it abstains on an example
// whose highest softmax probability is below threshold.
//
// Paper: Chow, "On optimum recognition error and reject tradeoff", IEEE
// Trans. Information Theory, 1970; as an adversarial defense, confidence
// thresholding is evaluated by Stutz, Hein and Schiele, "Confidence-
// Calibrated Adversarial Training", ICML 2020,
// https://arxiv.org/abs/1910.06259: high-confidence adversarial examples
// defeat a plain threshold, so a thresholded undefended model is not
// robust. Deterministic; costs one model call.
//
// threshold must lie in (1/K, 1] for a model of K classes: at or below
// 1/K nothing is ever rejected.
func Reject(model robust.Classifier, threshold float64) (*Rejecting, error) {
	if model == nil {
		return nil, configErr("Reject: nil model")
	}
	k := model.NumClasses()
	if k < 2 {
		return nil, configErr("Reject: model has %d classes, want at least 2", k)
	}
	if !(threshold > 1/float64(k) && threshold <= 1) {
		return nil, configErr("Reject: threshold = %v, want a value in (1/%d, 1]", threshold, k)
	}
	return &Rejecting{model: model, threshold: threshold}, nil
}

// Threshold is the confidence below which the model abstains.
func (r *Rejecting) Threshold() float64 { return r.threshold }

// NumClasses implements robust.Classifier: the model's K classes plus the
// abstention, class K.
func (r *Rejecting) NumClasses() int { return r.model.NumClasses() + 1 }

// Bounds implements robust.Classifier.
func (r *Rejecting) Bounds() robust.Bounds { return r.model.Bounds() }

// logProbs returns the model's n x K log-probabilities of x.
func (r *Rejecting) logProbs(ctx context.Context, x *tensor.Dense) (int, []float64, error) {
	k := r.model.NumClasses()
	z, err := r.model.Logits(ctx, x)
	if err != nil {
		return 0, nil, err
	}
	zs, err := logitRows(z, k)
	if err != nil {
		return 0, nil, fmt.Errorf("defense: Rejecting: %w", err)
	}
	n := len(zs) / k
	return n, softmax.LogRows(zs, n, k), nil
}

// decide returns example i's prediction: its top class, or Abstain.
func (r *Rejecting) decide(lp []float64) int {
	best := 0
	for j, v := range lp {
		if v > lp[best] {
			best = j
		}
	}
	if math.Exp(lp[best]) < r.threshold {
		return Abstain
	}
	return best
}

// Predict returns each example's class, or Abstain.
func (r *Rejecting) Predict(ctx context.Context, x *tensor.Dense) ([]int, error) {
	n, lp, err := r.logProbs(ctx, x)
	if err != nil {
		return nil, err
	}
	k := r.model.NumClasses()
	out := make([]int, n)
	for i := range out {
		out[i] = r.decide(lp[i*k : (i+1)*k])
	}
	return out, nil
}

// Logits implements robust.Classifier: n x (K+1) values, the model's
// log-probabilities and then the abstention column. Their argmax is the
// class Predict returns, with Abstain mapped to K: the abstention column
// holds log(threshold) moved by at most one float32 step so that rounding
// never flips a decision.
func (r *Rejecting) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, lp, err := r.logProbs(ctx, x)
	if err != nil {
		return nil, err
	}
	k := r.model.NumClasses()
	out := make([]float32, n*(k+1))
	lt := float32(math.Log(r.threshold))
	for i := 0; i < n; i++ {
		row, o := lp[i*k:(i+1)*k], out[i*(k+1):(i+1)*(k+1)]
		top := float32(math.Inf(-1))
		for j, v := range row {
			o[j] = float32(v)
			top = max(top, o[j])
		}
		a := lt
		if r.decide(row) == Abstain {
			if a <= top {
				a = math.Nextafter32(top, float32(math.Inf(1)))
			}
		} else if a >= top {
			a = math.Nextafter32(top, float32(math.Inf(-1)))
		}
		o[k] = a
	}
	return tensor.New(tensor.WithShape(n, k+1), tensor.WithBacking(out)), nil
}

// LossGrad implements robust.Differentiable: obj is evaluated on the K+1
// logits of Logits (without the one-step adjustment) and differentiated
// through the log-softmax; the abstention column is constant. Needs a
// robust.Differentiable model. Cost: one Logits call and one LogitsVJP call
// if the model is a robust.LogitsVJPer (as nn.Model is), else one LossGrad
// call on twice the batch.
func (r *Rejecting) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	m, ok := r.model.(robust.Differentiable)
	if !ok {
		return nil, nil, fmt.Errorf("defense: Rejecting.LossGrad: %w", robust.ErrNoGradient)
	}
	if _, _, err := tensors.CheckImages(x, r.Bounds()); err != nil {
		return nil, nil, fmt.Errorf("defense: Rejecting.LossGrad: %w", err)
	}
	n, lp, err := r.logProbs(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	k := r.model.NumClasses()
	if err := obj.Validate(n, k+1); err != nil {
		return nil, nil, fmt.Errorf("defense: Rejecting.LossGrad: %w", err)
	}
	z := make([]float64, n*(k+1))
	lt := math.Log(r.threshold)
	for i := 0; i < n; i++ {
		copy(z[i*(k+1):], lp[i*k:(i+1)*k])
		z[i*(k+1)+k] = lt
	}
	loss, gz := make([]float64, n), make([]float64, n*(k+1))
	obj.Eval(z, n, k+1, loss, gz)
	// z_j = log p_j for j < K: d z_j / d logit_i = delta_ij - p_i.
	cot := make([]float64, n*k)
	for i := 0; i < n; i++ {
		g := gz[i*(k+1) : i*(k+1)+k]
		sum := 0.0
		for _, v := range g {
			sum += v
		}
		for j, v := range g {
			cot[i*k+j] = v - math.Exp(lp[i*k+j])*sum
		}
	}
	grad, err := logitsVJP(ctx, m, x, cot, k)
	if err != nil {
		return nil, nil, fmt.Errorf("defense: Rejecting.LossGrad: %w", err)
	}
	return to32(loss), newLike(x, to32(grad)), nil
}

// Tally counts the outcomes of a classifier that may abstain.
type Tally struct {
	Correct, Wrong, Abstained int
}

// Total is the number of examples counted.
func (t Tally) Total() int { return t.Correct + t.Wrong + t.Abstained }

// Accuracy is Correct / Total: an abstention is not a correct answer.
// It is 0 for an empty tally.
func (t Tally) Accuracy() float64 { return ratio(t.Correct, t.Total()) }

// AbstentionRate is Abstained / Total, 0 for an empty tally.
func (t Tally) AbstentionRate() float64 { return ratio(t.Abstained, t.Total()) }

// SelectiveAccuracy is Correct / (Correct + Wrong), the accuracy on the
// examples answered, 0 when none was.
func (t Tally) SelectiveAccuracy() float64 { return ratio(t.Correct, t.Correct+t.Wrong) }

// Add returns the sum of two tallies.
func (t Tally) Add(u Tally) Tally {
	return Tally{t.Correct + u.Correct, t.Wrong + u.Wrong, t.Abstained + u.Abstained}
}

func (t Tally) String() string {
	return fmt.Sprintf("%d correct, %d wrong, %d abstained of %d", t.Correct, t.Wrong, t.Abstained, t.Total())
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Score predicts x and tallies the predictions against the labels y.
func (r *Rejecting) Score(ctx context.Context, x *tensor.Dense, y []int) (Tally, error) {
	pred, err := r.Predict(ctx, x)
	if err != nil {
		return Tally{}, err
	}
	if len(y) != len(pred) {
		return Tally{}, fmt.Errorf("defense: Rejecting.Score: %d labels for %d examples: %w", len(y), len(pred), robust.ErrLabel)
	}
	var t Tally
	for i, p := range pred {
		if y[i] < 0 || y[i] >= r.model.NumClasses() {
			return Tally{}, fmt.Errorf("defense: Rejecting.Score: y[%d] = %d, want [0, %d): %w", i, y[i], r.model.NumClasses(), robust.ErrLabel)
		}
		switch p {
		case Abstain:
			t.Abstained++
		case y[i]:
			t.Correct++
		default:
			t.Wrong++
		}
	}
	return t, nil
}
