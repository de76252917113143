package eval

import (
	"context"
	"fmt"
	"math"
	"time"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// probabilityTolerance is how far from 1 a row of outputs may sum and still
// look like probabilities: float32 softmax rows of 10 to 1000 classes sum to
// 1 within about 1e-6, while logits almost never sum to 1 by chance.
const probabilityTolerance = 1e-4

// blockResult is what one batch contributes to a report.
type blockResult struct {
	examples  []Example // only those inside the shard
	evaluator Calls
	runs      []RunCost // per epsilon, then per attack
}

// block evaluates batch j: the examples [j*batch, (j+1)*batch) of [0, n).
func (e *evaluator) block(ctx context.Context, j int) (blockResult, error) {
	lo, hi := j*e.batch, min((j+1)*e.batch, e.n)
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	x, y, err := e.data.Batch(idx)
	if err != nil {
		return blockResult{}, fmt.Errorf("eval: reading examples [%d, %d): %w", lo, hi, err)
	}
	nb, xs, err := tensors.CheckImages(x, e.bounds)
	if err != nil {
		return blockResult{}, fmt.Errorf("eval: examples [%d, %d): %w", lo, hi, err)
	}
	if sh := x.Shape(); nb != len(idx) || sh[1] != e.shape[0] || sh[2] != e.shape[1] || sh[3] != e.shape[2] {
		return blockResult{}, fmt.Errorf("eval: examples [%d, %d) have shape %v, want (%d, %d, %d, %d): %w", lo, hi, sh, len(idx), e.shape[0], e.shape[1], e.shape[2], robust.ErrShape)
	}
	if len(y) != nb {
		return blockResult{}, fmt.Errorf("eval: examples [%d, %d): %d labels: %w", lo, hi, len(y), robust.ErrShape)
	}
	for i, l := range y {
		if l < 0 || l >= e.classes {
			return blockResult{}, fmt.Errorf("eval: example %d has label %d, want [0, %d): %w", lo+i, l, e.classes, robust.ErrLabel)
		}
	}

	var ev counter
	cm := counted(e.model, &ev)
	ex := make([]Example, nb)
	if err := e.cleanChecks(ctx, cm, x, y, lo, ex); err != nil {
		return blockResult{}, err
	}
	var correct []int
	for i := range ex {
		if ex[i].CleanPred == ex[i].Label {
			correct = append(correct, i)
			ex[i].Outcomes = make([][]Outcome, len(e.eps))
		}
	}
	res := blockResult{runs: make([]RunCost, 0, len(e.eps)*len(e.suite.Attacks))}
	d := len(xs) / nb
	xc, yc := gatherRows(xs, d, correct), make([]int, len(correct))
	for k, i := range correct {
		yc[k] = y[i]
	}
	for ei, eps := range e.eps {
		for _, a := range e.suite.Attacks {
			rc := RunCost{Attack: a.Name, Eps: eps}
			if len(correct) > 0 {
				out, err := e.attack(ctx, cm, a, eps, j, xc, yc, x.Shape(), &rc)
				if err != nil {
					return blockResult{}, fmt.Errorf("eval: %s at eps %v on examples [%d, %d): %w", a.Name, eps, lo, hi, err)
				}
				for k, i := range correct {
					ex[i].Outcomes[ei] = append(ex[i].Outcomes[ei], out[k])
				}
			}
			res.runs = append(res.runs, rc)
			e.progress(a.Name, eps)
		}
	}
	res.evaluator = ev.calls()
	for i := range ex {
		if g := lo + i; g >= e.begin && g < e.end {
			res.examples = append(res.examples, ex[i])
		}
	}
	return res, nil
}

// cleanChecks fills in label, clean prediction and the per-example sanity
// data of the batch x starting at example lo.
func (e *evaluator) cleanChecks(ctx context.Context, cm robust.Classifier, x *tensor.Dense, y []int, lo int, ex []Example) error {
	nb, k := len(ex), e.classes
	z1, err := e.logits(ctx, cm, x, nb)
	if err != nil {
		return fmt.Errorf("eval: clean logits of examples [%d, %d): %w", lo, lo+nb, err)
	}
	z2, err := e.logits(ctx, cm, x, nb)
	if err != nil {
		return fmt.Errorf("eval: clean logits of examples [%d, %d): %w", lo, lo+nb, err)
	}
	for i := range ex {
		row, again := z1[i*k:(i+1)*k], z2[i*k:(i+1)*k]
		ex[i].Index, ex[i].Label, ex[i].CleanPred = lo+i, y[i], argmax(row)
		sum, unit := 0.0, true
		for c, v := range row {
			sum += v
			unit = unit && v >= 0 && v <= 1
			if math.Float64bits(v) != math.Float64bits(again[c]) {
				ex[i].Stochastic = true
			}
		}
		ex[i].Probabilities = unit && math.Abs(sum-1) <= probabilityTolerance
	}
	dm, ok := cm.(robust.Differentiable)
	if !ok {
		return nil
	}
	_, gce, err := dm.LossGrad(ctx, x, robust.Objective{Kind: robust.CrossEntropy, Labels: y})
	if err != nil {
		return fmt.Errorf("eval: cross-entropy gradient at examples [%d, %d): %w", lo, lo+nb, err)
	}
	_, gm, err := dm.LossGrad(ctx, x, robust.Objective{Kind: robust.Margin, Labels: y})
	if err != nil {
		return fmt.Errorf("eval: margin gradient at examples [%d, %d): %w", lo, lo+nb, err)
	}
	ce, err := gradRows(gce, x)
	if err != nil {
		return fmt.Errorf("eval: cross-entropy gradient at examples [%d, %d): %w", lo, lo+nb, err)
	}
	mg, err := gradRows(gm, x)
	if err != nil {
		return fmt.Errorf("eval: margin gradient at examples [%d, %d): %w", lo, lo+nb, err)
	}
	d := len(ce) / nb
	for i := range ex {
		ex[i].Gradient = gradientState(ce[i*d:(i+1)*d], mg[i*d:(i+1)*d])
	}
	return nil
}

// gradientState classifies one example's clean gradients.
func gradientState(ce, margin []float64) string {
	ceZero, mZero := true, true
	for j := range ce {
		if isNonFinite(ce[j]) || isNonFinite(margin[j]) {
			return GradientNonFinite
		}
		ceZero = ceZero && ce[j] == 0
		mZero = mZero && margin[j] == 0
	}
	switch {
	case mZero:
		return GradientZero
	case ceZero:
		return GradientZeroCE
	}
	return GradientOK
}

func isNonFinite(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// gradRows returns a gradient's values after checking it has x's shape.
func gradRows(g, x *tensor.Dense) ([]float64, error) {
	if g == nil || !g.Shape().Eq(x.Shape()) {
		var s tensor.Shape
		if g != nil {
			s = g.Shape()
		}
		return nil, fmt.Errorf("eval: gradient shape %v, want %v: %w", s, x.Shape(), robust.ErrShape)
	}
	return tensors.Float64s(g)
}

// logits returns m's finite logits of x, nb x classes values.
func (e *evaluator) logits(ctx context.Context, m robust.Classifier, x *tensor.Dense, nb int) ([]float64, error) {
	z, err := m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	if z == nil {
		return nil, fmt.Errorf("eval: model returned nil logits: %w", robust.ErrShape)
	}
	if s := z.Shape(); len(s) != 2 || s[0] != nb || s[1] != e.classes {
		return nil, fmt.Errorf("eval: logits shape %v, want (%d, %d): %w", s, nb, e.classes, robust.ErrShape)
	}
	v, err := tensors.Float64s(z)
	if err != nil {
		return nil, err
	}
	for i, f := range v {
		if isNonFinite(f) {
			return nil, fmt.Errorf("eval: logit %d of example %d is %v: %w", i%e.classes, i/e.classes, f, robust.ErrNonFinite)
		}
	}
	return v, nil
}

// attack runs attack a at eps on the clean, correctly classified examples
// xc (labels yc) of batch j and returns each one's outcome. The attack sees
// the model through its own counter, whose counts go to rc; the verdict on
// its output is counted by cm, the evaluator's.
func (e *evaluator) attack(ctx context.Context, cm robust.Classifier, a SuiteAttack, eps float64, j int,
	xc []float32, yc []int, shape tensor.Shape, rc *RunCost) ([]Outcome, error) {
	atk := a.New(eps)
	if rs, ok := atk.(robust.Reseedable); ok {
		atk = rs.WithSeed(batchSeed(e.suite.Seed, a.Name, eps, j))
	}
	nc := len(yc)
	in := tensor.New(tensor.WithShape(nc, shape[1], shape[2], shape[3]), tensor.WithBacking(append([]float32(nil), xc...)))
	var c counter
	t0 := time.Now()
	xAdv, err := atk.Perturb(ctx, counted(e.model, &c), in, yc)
	rc.Seconds = time.Since(t0).Seconds()
	rc.Calls = c.calls()
	if err != nil {
		return nil, err
	}
	if xAdv == nil || !xAdv.Shape().Eq(in.Shape()) {
		var s tensor.Shape
		if xAdv != nil {
			s = xAdv.Shape()
		}
		return nil, fmt.Errorf("eval: attack output shape %v, want %v: %w", s, in.Shape(), robust.ErrShape)
	}
	_, adv, err := tensors.CheckImages(xAdv, e.bounds)
	if err != nil {
		return nil, fmt.Errorf("attack output: %w", err)
	}
	z, err := e.logits(ctx, cm, xAdv, nc)
	if err != nil {
		return nil, fmt.Errorf("logits of the attack's output: %w", err)
	}
	d := len(xc) / nc
	out := make([]Outcome, nc)
	for k := range out {
		dist := e.suite.norm().Distance(xc[k*d:(k+1)*d], adv[k*d:(k+1)*d])
		if dist > eps {
			return nil, fmt.Errorf("eval: attack output %d lies at %s distance %v > eps %v: %w", k, e.suite.norm(), dist, eps, robust.ErrBounds)
		}
		out[k] = Outcome{Pred: argmax(z[k*e.classes : (k+1)*e.classes]), Norm: dist}
	}
	return out, nil
}

func gatherRows(v []float32, d int, idx []int) []float32 {
	out := make([]float32, 0, len(idx)*d)
	for _, i := range idx {
		out = append(out, v[i*d:(i+1)*d]...)
	}
	return out
}

// argmax returns the first index of the largest value.
func argmax(z []float64) int {
	best := 0
	for j := 1; j < len(z); j++ {
		if z[j] > z[best] {
			best = j
		}
	}
	return best
}
