package attack

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// APGD defaults and constants of Croce and Hein (2020).
const (
	// DefaultAPGDSteps is the number of iterations when Steps is 0, as in
	// AutoAttack.
	DefaultAPGDSteps = 100
	// DefaultAPGDRho is the fraction of loss-increasing steps below which a
	// checkpoint halves the step size, when Rho is 0.
	DefaultAPGDRho = 0.75
	// apgdMomentum is the weight alpha of the new step against the previous
	// one; the first iteration uses no momentum.
	apgdMomentum = 0.75
	// apgdInitialStep is the initial step size as a multiple of Eps.
	apgdInitialStep = 2.0
)

const apgdStream = 0xa96d

// APGD is Auto-PGD (Croce and Hein, "Reliable evaluation of adversarial
// robustness with an ensemble of diverse parameter-free attacks", ICML 2020,
// https://arxiv.org/abs/2003.01690), the core of AutoAttack, for the robust.LInf and robust.L2 norms. It needs no step size: it
// starts at 2*Eps and halves it per example at checkpoints placed by the
// schedule p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)
// (as fractions of Steps, rounded as in the reference implementation), when
//
//  1. fewer than Rho of the steps since the last checkpoint raised the loss, or
//  2. the step was not halved at the last checkpoint and the best loss has
//     not improved since,
//
// and each halving restarts the example from its best point. Steps use
// momentum: z = P(x_k + eta*dir(grad)), x_{k+1} = P(x_k + alpha(z - x_k) +
// (1-alpha)(x_k - x_{k-1})), with alpha = apgdMomentum after the first step
// and dir = sign for robust.LInf, grad/||grad||_2 for robust.L2. P projects onto the ball
// and clips to the model's Bounds.
//
// A run starts near the boundary of the ball (for robust.LInf eps*t/||t||_inf with t
// uniform in [-1, 1]^d, for robust.L2 uniform on the sphere), as the reference
// does. It returns, per example, the last iterate that reached the goal, or
// else the iterate of highest loss. With Restarts > 1, later runs attack
// only unbroken examples, each example keeping its worst case.
//
// Condition 1 uses the paper's strict "<"; the reference code uses "<=" and
// compares its first step with a zero loss, which differ only at ties.
//
// Cost per run: Steps+1 LossGrad calls, plus as many Logits calls for the
// cross-entropy loss (the margin and DLR losses tell success by their sign).
// Randomized; deterministic for a given Seed and a deterministic model.
//
// The zero value is not usable: Eps must be set. An APGD value is read-only
// during Perturb and safe to share between goroutines.
type APGD struct {
	// Eps is the radius of the ball, in the model's pixel units. Required.
	Eps float64
	// Norm is robust.LInf or robust.L2. If Norm is 0, robust.LInf is used.
	Norm robust.Norm
	// Steps is the number of iterations per run. If Steps is 0,
	// DefaultAPGDSteps (100) is used.
	Steps int
	// Restarts is the number of runs. If Restarts is 0, DefaultRestarts (1)
	// is used.
	Restarts int
	// Loss is robust.CrossEntropy (APGD-CE), robust.DLR (APGD-DLR) or
	// robust.Margin. If Loss is 0, robust.CrossEntropy is used.
	// PerturbTargeted ascends the targeted kind (targeted DLR for DLR).
	Loss robust.ObjectiveKind
	// Rho is the threshold of condition 1, in (0, 1]. If Rho is 0,
	// DefaultAPGDRho (0.75) is used.
	Rho float64
	// Seed seeds the starting points (PCG from math/rand/v2). Every seed,
	// including 0, is a fixed seed.
	Seed uint64
}

var (
	_ robust.Attack = APGD{}
	_ Targeted      = APGD{}
)

// Validate reports whether the hyper-parameters are usable. Perturb calls it.
func (a APGD) Validate() error {
	return validateAPGD("APGD", a.Eps, a.Norm, a.Steps, a.Restarts, a.Rho, a.Loss)
}

func validateAPGD(name string, eps float64, norm robust.Norm, steps, restarts int, rho float64, loss robust.ObjectiveKind) error {
	if err := checkEps(name, eps); err != nil {
		return err
	}
	if err := checkNorm(name, norm); err != nil {
		return err
	}
	if err := checkCount(name, "Steps", steps); err != nil {
		return err
	}
	if err := checkCount(name, "Restarts", restarts); err != nil {
		return err
	}
	if err := checkOptionalPositive(name, "Rho", rho, 1); err != nil {
		return err
	}
	return checkLoss(name, loss)
}

// Perturb implements robust.Attack: it raises the objective of the true
// labels y. m must be a robust.Differentiable.
func (a APGD) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, nil, false)
}

// PerturbTargeted implements Targeted: it ascends the targeted kind of Loss
// toward targets, and an example is broken when its target wins.
func (a APGD) PerturbTargeted(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, targets, true)
}

func (a APGD) perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool) (*tensor.Dense, error) {
	const name = "APGD"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, g, b, err := prepareGradient(name, m, x, y, targets, targeted, a.Norm, a.Eps)
	if err != nil {
		return nil, err
	}
	kind := lossKind(a.Loss, targeted)
	if err := p.objective(kind).Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	r := apgdRunner{name: name, steps: orInt(a.Steps, DefaultAPGDSteps), rho: a.Rho, ball: b}
	if r.rho == 0 {
		r.rho = DefaultAPGDRho
	}
	rng := newRNG(a.Seed, apgdStream)
	best := newWorst(p.x, p.n, p.d)
	for range orInt(a.Restarts, DefaultRestarts) {
		if err := r.attack(ctx, g, p, best, kind, nil, rng); err != nil {
			return nil, err
		}
	}
	return p.tensor(b.finalize(p.x, best.adv, p.d)), nil
}

// prepareGradient is the shared preamble of gradient attacks.
func prepareGradient(name string, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool, norm robust.Norm, eps float64) (*problem, robust.Differentiable, ball, error) {
	p, err := prepare(name, m, x, y, targets, targeted)
	if err != nil {
		return nil, nil, ball{}, err
	}
	g, err := differentiable(name, m)
	if err != nil {
		return nil, nil, ball{}, err
	}
	b := ball{norm: orLInf(norm), eps: eps, bounds: p.bounds}
	if err := checkBudget(name, b.norm, eps, p.bounds, p.d); err != nil {
		return nil, nil, ball{}, err
	}
	return p, g, b, nil
}

// apgdRunner holds one APGD configuration with defaults applied.
type apgdRunner struct {
	name  string
	steps int
	rho   float64
	ball  ball
}

// attack runs APGD once on the examples of p that best has not broken yet
// and offers the results to best. targets, when not nil, overrides the
// objective's targets for this run (APGDT) without changing the goal.
func (r apgdRunner) attack(ctx context.Context, m robust.Differentiable, p *problem, best *worst, kind robust.ObjectiveKind, targets []int, rng *rand.Rand) error {
	idx := best.unbroken()
	if len(idx) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return stopped(r.name, "iteration", 0, err)
	}
	q := p
	if len(idx) < p.n {
		q = p.subset(idx)
	}
	obj := q.objective(kind)
	if targets != nil {
		obj.Targets = gatherInts(targets, idx)
	}
	adv, loss, ok, err := r.run(ctx, m, q, obj, rng)
	if err != nil {
		return err
	}
	for s, i := range idx {
		best.offer(i, adv[s*q.d:(s+1)*q.d], loss[s], ok[s])
	}
	return nil
}
