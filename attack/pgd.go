package attack

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// PGD defaults.
const (
	// DefaultPGDSteps is the number of steps when PGD.Steps is 0: the 40 of
	// Madry et al.'s MNIST training attack.
	DefaultPGDSteps = 40
	// DefaultStepFactor sets the step size when PGD.Step is 0:
	// Step = DefaultStepFactor * Eps / Steps, the rule of thumb of the Madry
	// lab's robustness library. The steps add up to 2.5 Eps, enough to cross
	// the ball (diameter 2 Eps) from a random start and still correct course.
	DefaultStepFactor = 2.5
	// DefaultRestarts is the number of runs when Restarts is 0.
	DefaultRestarts = 1
)

// pgdStream separates PGD's random numbers from other attacks' with the same
// seed.
const pgdStream = 0x9d9

// PGD is projected gradient ascent (Madry et al., "Towards Deep Learning
// Models Resistant to Adversarial Attacks", ICLR 2018,
// https://arxiv.org/abs/1706.06083) for the robust.LInf and robust.L2 norms.
//
// Each run starts at a point drawn uniformly from the Eps ball around x (on
// by default; see NoRandomStart and GaussianStart), clipped to the model's
// Bounds, then takes
// Steps steps of length Step along sign(grad) (robust.LInf) or grad/||grad||_2 (robust.L2,
// where a zero gradient means no move), projecting onto the ball and
// clipping to the Bounds after every step. A run returns its last iterate.
//
// With Restarts > 1, later runs attack only the examples not yet broken, and
// each example keeps its worst case: the output of the first run that
// reaches the goal, otherwise the output of highest loss.
//
// Perturb and PerturbTargeted ascend the loss of labels (Loss); Ascend
// ascends any robust.Objective the caller gives, such as the KL divergence
// from reference probabilities that TRADES maximises.
//
// Cost: at most Restarts * Steps LossGrad calls and Restarts Logits calls,
// each on at most N examples. Randomized (unless NoRandomStart) and
// deterministic for a given Seed and a deterministic model.
//
// The zero value is not usable: Eps must be set. A PGD value is read-only
// during Perturb and safe to share between goroutines.
type PGD struct {
	// Eps is the radius of the ball, in the model's pixel units. Required.
	Eps float64
	// Norm is robust.LInf or robust.L2. If Norm is 0, robust.LInf is used.
	Norm robust.Norm
	// Steps is the number of gradient steps per run. If Steps is 0,
	// DefaultPGDSteps (40) is used.
	Steps int
	// Step is the step length. If Step is 0, DefaultStepFactor*Eps/Steps is
	// used (0.01875 for Eps 0.3 and 40 steps).
	Step float64
	// Restarts is the number of runs. If Restarts is 0, DefaultRestarts (1)
	// is used. More than one run needs the random start.
	Restarts int
	// NoRandomStart starts every run at x itself, as in the basic iterative
	// method of Kurakin et al. The zero value keeps the random start.
	NoRandomStart bool
	// GaussianStart, if > 0, replaces the uniform start: every run starts at
	// x + GaussianStart * N(0, 1) per value, projected onto the ball and
	// clipped to the Bounds. A small one (the TRADES reference code uses
	// 0.001) moves the start just off x, where the gradient of an objective
	// that x minimises (KL from x's own probabilities) is zero, without
	// spreading it over the ball. It must be finite and >= 0, and 0 with
	// NoRandomStart.
	GaussianStart float64
	// Loss is the objective family: robust.CrossEntropy, robust.Margin (the
	// Carlini-Wagner margin) or robust.DLR. If Loss is 0,
	// robust.CrossEntropy is used. PerturbTargeted ascends the matching
	// targeted kind.
	Loss robust.ObjectiveKind
	// Seed seeds the random start (PCG from math/rand/v2). Every seed,
	// including 0, is a fixed seed: equal seeds give equal outputs.
	Seed uint64
	// StopOnSuccess freezes an example, within a run, at the first iterate
	// that reaches the goal, as the evaluation code of Wong et al. (2020)
	// does, instead of returning the run's last iterate. The attack can only
	// get stronger: a success found midway is never walked away from, which
	// matters where the gradient is only an approximation (BPDA through
	// JPEG, FGSM-trained models). The check costs one Logits call per step
	// unless the loss alone decides success (robust.Margin, robust.DLR).
	StopOnSuccess bool
}

var (
	_ robust.Attack = PGD{}
	_ Targeted      = PGD{}
)

// Validate reports whether the hyper-parameters are usable. Perturb calls it.
func (a PGD) Validate() error {
	const name = "PGD"
	if err := checkEps(name, a.Eps); err != nil {
		return err
	}
	if err := checkNorm(name, a.Norm); err != nil {
		return err
	}
	if err := checkCount(name, "Steps", a.Steps); err != nil {
		return err
	}
	if err := checkCount(name, "Restarts", a.Restarts); err != nil {
		return err
	}
	if err := checkOptionalPositive(name, "Step", a.Step, 0); err != nil {
		return err
	}
	if err := checkOptionalPositive(name, "GaussianStart", a.GaussianStart, 0); err != nil {
		return err
	}
	if a.NoRandomStart && a.GaussianStart != 0 {
		return configErr("%s.GaussianStart = %v with NoRandomStart, want 0: there is no random start to shape", name, a.GaussianStart)
	}
	if a.NoRandomStart && a.Restarts > 1 {
		return configErr("%s.Restarts = %d with NoRandomStart: every run would be identical", name, a.Restarts)
	}
	return checkLoss(name, a.Loss)
}

func (a PGD) steps() int    { return orInt(a.Steps, DefaultPGDSteps) }
func (a PGD) restarts() int { return orInt(a.Restarts, DefaultRestarts) }

func (a PGD) step() float64 {
	if a.Step != 0 {
		return a.Step
	}
	return DefaultStepFactor * a.Eps / float64(a.steps())
}

// Perturb implements robust.Attack: it raises the objective of the true
// labels y. m must be a robust.Differentiable.
func (a PGD) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, nil, false)
}

// PerturbTargeted implements Targeted: it ascends the targeted kind of Loss
// toward targets, and an example is broken when its target wins.
func (a PGD) PerturbTargeted(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, targets, true)
}

func (a PGD) perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool) (*tensor.Dense, error) {
	const name = "PGD"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, err := prepare(name, m, x, y, targets, targeted)
	if err != nil {
		return nil, err
	}
	g, err := differentiable(name, m)
	if err != nil {
		return nil, err
	}
	b := ball{norm: orLInf(a.Norm), eps: a.Eps, bounds: p.bounds}
	if err := checkBudget(name, b.norm, a.Eps, p.bounds, p.d); err != nil {
		return nil, err
	}
	kind := lossKind(a.Loss, targeted)
	if err := p.objective(kind).Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	rng := newRNG(a.Seed, pgdStream)
	best := newWorst(p.x, p.n, p.d)
	for r := 0; r < a.restarts(); r++ {
		idx := best.unbroken()
		if len(idx) == 0 {
			break
		}
		q := p
		if len(idx) < p.n {
			q = p.subset(idx)
		}
		obj := q.objective(kind)
		adv, err := a.run(ctx, g, q, obj, b, rng)
		if err != nil {
			return nil, err
		}
		loss, ok, err := q.score(ctx, m, adv, obj)
		if err != nil {
			return nil, failed(name, "restart", r+1, err)
		}
		for s, i := range idx {
			best.offer(i, adv[s*q.d:(s+1)*q.d], loss[s], ok[s])
		}
	}
	return p.tensor(b.finalize(p.x, best.adv, p.d)), nil
}

// Ascend is PGD on a caller-given objective: it raises obj, which must be
// valid for x's N examples and m's classes (robust.Objective.Validate), and
// returns an output inside the Eps ball and the Bounds, like Perturb's. An
// objective alone sets no goal, so no example counts as broken: with
// Restarts > 1 each example keeps the run of highest objective value (one
// extra Logits call per run), and StopOnSuccess must be false. Loss is not
// read. With Restarts 1 and a cross-entropy objective of labels y, Ascend
// returns what Perturb(ctx, m, x, y) returns.
//
// Cost: Restarts * Steps LossGrad calls, plus Restarts Logits calls when
// Restarts > 1.
func (a PGD) Ascend(ctx context.Context, m robust.Differentiable, x *tensor.Dense, obj robust.Objective) (*tensor.Dense, error) {
	const name = "PGD"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.StopOnSuccess {
		return nil, configErr("%s.StopOnSuccess = true in Ascend, want false: an objective alone sets no goal to stop at", name)
	}
	p, err := prepareInputs(name, m, x)
	if err != nil {
		return nil, err
	}
	b := ball{norm: orLInf(a.Norm), eps: a.Eps, bounds: p.bounds}
	if err := checkBudget(name, b.norm, a.Eps, p.bounds, p.d); err != nil {
		return nil, err
	}
	if err := obj.Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	rng := newRNG(a.Seed, pgdStream)
	if a.restarts() == 1 {
		adv, err := a.run(ctx, m, p, obj, b, rng)
		if err != nil {
			return nil, err
		}
		return p.tensor(b.finalize(p.x, adv, p.d)), nil
	}
	best := newWorst(p.x, p.n, p.d)
	loss := make([]float64, p.n)
	for r := 0; r < a.restarts(); r++ {
		adv, err := a.run(ctx, m, p, obj, b, rng)
		if err != nil {
			return nil, err
		}
		z, err := p.logits(ctx, m, adv)
		if err == nil {
			err = obj.Eval(z, p.n, p.k, loss, nil)
		}
		if err != nil {
			return nil, failed(name, "restart", r+1, err)
		}
		for i := range loss {
			best.offer(i, adv[i*p.d:(i+1)*p.d], loss[i], false)
		}
	}
	return p.tensor(b.finalize(p.x, best.adv, p.d)), nil
}

// run is one PGD run from a random start; it returns the last iterate.
func (a PGD) run(ctx context.Context, m robust.Differentiable, p *problem, obj robust.Objective, b ball, rng *rand.Rand) ([]float32, error) {
	const name = "PGD"
	adv := append([]float32(nil), p.x...)
	if !a.NoRandomStart {
		delta := make([]float64, p.d)
		for i := 0; i < p.n; i++ {
			if a.GaussianStart > 0 {
				for j := range delta {
					delta[j] = a.GaussianStart * rng.NormFloat64()
				}
			} else {
				uniformBall(b.norm, rng, b.eps, delta)
			}
			for j, v := range delta {
				adv[i*p.d+j] = float32(float64(adv[i*p.d+j]) + v)
			}
		}
		b.project(p.x, adv, p.d)
	}
	step := float32(a.step())
	dir := make([]float32, p.d)
	lo, hi := b.limits(p.x)
	for s := 1; s <= a.steps(); s++ {
		if err := ctx.Err(); err != nil {
			return nil, stopped(name, "step", s, err)
		}
		loss, grad, err := p.lossGrad(ctx, m, adv, obj)
		if err != nil {
			return nil, failed(name, "step", s, err)
		}
		var done []bool
		if a.StopOnSuccess {
			if done, err = p.reachedAt(ctx, m, adv, obj, loss); err != nil {
				return nil, failed(name, "step", s, err)
			}
		}
		for i := 0; i < p.n; i++ {
			if done != nil && done[i] {
				continue
			}
			direction(b.norm, grad[i*p.d:(i+1)*p.d], dir)
			for j, v := range dir {
				adv[i*p.d+j] += step * v
			}
		}
		b.projectLimits(p.x, adv, lo, hi, p.d)
	}
	return adv, nil
}
