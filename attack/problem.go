package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// problem is a batch being attacked: the clean inputs, what counts as
// success for each example, and checked calls to the model. Attacks work on
// sub-batches (the examples not yet broken) through subset.
type problem struct {
	x       []float32 // n*d clean values; never written
	n, d    int
	c, h, w int
	k       int
	bounds  robust.Bounds
	labels  []int
	targets []int // nil for an untargeted attack
}

// subset returns the problem restricted to the examples idx, with copies of
// their inputs and labels.
func (p *problem) subset(idx []int) *problem {
	q := *p
	q.n = len(idx)
	q.x = gather(p.x, p.d, idx)
	q.labels = gatherInts(p.labels, idx)
	if p.targets != nil {
		q.targets = gatherInts(p.targets, idx)
	}
	return &q
}

func gather(v []float32, d int, idx []int) []float32 {
	out := make([]float32, len(idx)*d)
	for r, i := range idx {
		copy(out[r*d:(r+1)*d], v[i*d:(i+1)*d])
	}
	return out
}

func gatherInts(v []int, idx []int) []int {
	out := make([]int, len(idx))
	for r, i := range idx {
		out[r] = v[i]
	}
	return out
}

// tensor wraps n*d values of this problem as an N x C x H x W tensor
// without copying.
func (p *problem) tensor(v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(p.n, p.c, p.h, p.w), tensor.WithBacking(v))
}

// objective returns the objective of the given kind on this batch.
func (p *problem) objective(kind robust.ObjectiveKind) robust.Objective {
	o := robust.Objective{Kind: kind, Labels: p.labels}
	if kind.Targeted() {
		o.Targets = p.targets
	}
	return o
}

// reached reports whether logits z (one row) meet example i's goal: the
// target wins for a targeted attack, the true label loses otherwise. Ties go
// to the lowest index, as in every argmax of this module.
func (p *problem) reached(i int, z []float64) bool {
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	if p.targets != nil {
		return best == p.targets[i]
	}
	return best != p.labels[i]
}

// lossDecides reports whether the sign of the objective alone tells success,
// which saves a Logits call per iteration: a positive untargeted margin or
// DLR means some class beats the label, a positive targeted margin means the
// target beats every class. On an exact tie these say "not yet", which only
// ever under-reports success.
func (p *problem) lossDecides(kind robust.ObjectiveKind) bool {
	if p.targets != nil {
		return kind == robust.TargetedMargin
	}
	return kind == robust.Margin || kind == robust.DLR
}

// lossGrad calls m.LossGrad on n*d values v and checks what comes back.
func (p *problem) lossGrad(ctx context.Context, m robust.Differentiable, v []float32, obj robust.Objective) ([]float32, []float32, error) {
	loss, g, err := m.LossGrad(ctx, p.tensor(v), obj)
	if err != nil {
		return nil, nil, err
	}
	if len(loss) != p.n {
		return nil, nil, fmt.Errorf("model returned %d losses for %d examples: %w", len(loss), p.n, robust.ErrShape)
	}
	if g == nil {
		return nil, nil, fmt.Errorf("model returned a nil gradient: %w", robust.ErrShape)
	}
	_, gs, err := tensors.Images(g)
	if err != nil || len(gs) != len(v) {
		return nil, nil, fmt.Errorf("model gradient has shape %v dtype %v, want (%d, %d, %d, %d) float32: %w",
			g.Shape(), g.Dtype(), p.n, p.c, p.h, p.w, robust.ErrShape)
	}
	for i, l := range loss {
		if !finite(float64(l)) {
			return nil, nil, fmt.Errorf("model loss[%d] = %v: %w", i, l, robust.ErrNonFinite)
		}
	}
	for j, gv := range gs {
		if !finite(float64(gv)) {
			return nil, nil, fmt.Errorf("model gradient[%d] = %v: %w", j, gv, robust.ErrNonFinite)
		}
	}
	return loss, gs, nil
}

// logits calls m.Logits on n*d values v and returns n*k finite float64
// logits.
func (p *problem) logits(ctx context.Context, m robust.Classifier, v []float32) ([]float64, error) {
	t, err := m.Logits(ctx, p.tensor(v))
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("model returned nil logits: %w", robust.ErrShape)
	}
	if s := t.Shape(); len(s) != 2 || s[0] != p.n || s[1] != p.k {
		return nil, fmt.Errorf("model logits have shape %v, want (%d, %d): %w", s, p.n, p.k, robust.ErrShape)
	}
	z, err := tensors.Float64s(t)
	if err != nil {
		return nil, err
	}
	for j, v := range z {
		if !finite(v) {
			return nil, fmt.Errorf("model logit[%d] = %v: %w", j, v, robust.ErrNonFinite)
		}
	}
	return z, nil
}

// reachedAt tells which examples reach the goal at v, given the objective
// values loss that LossGrad returned there; it calls Logits only when the
// loss cannot decide.
func (p *problem) reachedAt(ctx context.Context, m robust.Classifier, v []float32, obj robust.Objective, loss []float32) ([]bool, error) {
	ok := make([]bool, p.n)
	if p.lossDecides(obj.Kind) {
		for i, l := range loss {
			ok[i] = l > 0
		}
		return ok, nil
	}
	z, err := p.logits(ctx, m, v)
	if err != nil {
		return nil, err
	}
	for i := range ok {
		ok[i] = p.reached(i, z[i*p.k:(i+1)*p.k])
	}
	return ok, nil
}

// score evaluates the objective and the goal at v with one Logits call.
func (p *problem) score(ctx context.Context, m robust.Classifier, v []float32, obj robust.Objective) ([]float64, []bool, error) {
	z, err := p.logits(ctx, m, v)
	if err != nil {
		return nil, nil, err
	}
	loss := make([]float64, p.n)
	obj.Eval(z, p.n, p.k, loss, nil)
	ok := make([]bool, p.n)
	for i := range ok {
		ok[i] = p.reached(i, z[i*p.k:(i+1)*p.k])
	}
	return loss, ok, nil
}

// worst keeps, per example, the strongest candidate seen across restarts:
// the first one that reached the goal, or else the one of highest loss.
type worst struct {
	adv    []float32
	loss   []float64
	broken []bool
	d      int
}

func newWorst(x []float32, n, d int) *worst {
	w := &worst{adv: append([]float32(nil), x...), loss: make([]float64, n), broken: make([]bool, n), d: d}
	for i := range w.loss {
		w.loss[i] = math.Inf(-1)
	}
	return w
}

// offer proposes candidate v (d values) with its loss and success for
// example i. A broken example keeps its first adversarial candidate, so
// later restarts cannot replace a success with a mere higher loss.
func (w *worst) offer(i int, v []float32, loss float64, success bool) {
	if w.broken[i] {
		return
	}
	if success || loss > w.loss[i] {
		copy(w.adv[i*w.d:(i+1)*w.d], v)
		w.loss[i] = loss
		w.broken[i] = success
	}
}

// unbroken lists the examples still to attack.
func (w *worst) unbroken() []int {
	var idx []int
	for i, b := range w.broken {
		if !b {
			idx = append(idx, i)
		}
	}
	return idx
}

// stopped wraps a context error with where the attack stopped.
func stopped(name, where string, i int, err error) error {
	return fmt.Errorf("attack: %s stopped before %s %d: %w", name, where, i, err)
}

// failed wraps a model error with where it happened.
func failed(name, where string, i int, err error) error {
	return fmt.Errorf("attack: %s %s %d: %w", name, where, i, err)
}

// newRNG returns the generator of one Perturb call. Each attack passes its
// own stream constant, so two attacks with the same Seed draw different
// numbers.
func newRNG(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}
