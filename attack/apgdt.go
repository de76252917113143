package attack

import (
	"context"
	"fmt"
	"sort"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// DefaultAPGDTTargets is the number of target classes APGDT tries when
// NumTargets is 0, as in AutoAttack's standard version.
const DefaultAPGDTTargets = 9

const apgdtStream = 0xa96d7

// APGDT is APGD on the targeted DLR loss, as run by AutoAttack ("APGD-T",
// Croce and Hein 2020): an untargeted attack that, for each example not yet
// broken, tries in turn the NumTargets classes other than the true label with
// the highest clean logits, running APGD toward each with the loss
// -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2). An example is broken as soon
// as any class other than its label wins; otherwise it keeps the iterate of
// highest targeted-DLR loss over all targets.
//
// It needs a model with at least 4 classes. Targets are ranked among the
// classes other than the true label (AutoAttack ranks all classes, which
// differs only for examples misclassified at x).
//
// Cost: one Logits call to rank the targets, then per target and restart an
// APGD run on the unbroken examples: Steps+1 LossGrad and Steps+1 Logits
// calls. Randomized; deterministic for a given Seed and a deterministic
// model.
//
// The zero value is not usable: Eps must be set. An APGDT value is read-only
// during Perturb and safe to share between goroutines.
type APGDT struct {
	// Eps is the radius of the ball, in the model's pixel units. Required.
	Eps float64
	// Norm is robust.LInf or robust.L2. If Norm is 0, robust.LInf is used.
	Norm robust.Norm
	// Steps is the number of iterations per run. If Steps is 0,
	// DefaultAPGDSteps (100) is used.
	Steps int
	// Restarts is the number of runs per target class. If Restarts is 0,
	// DefaultRestarts (1) is used.
	Restarts int
	// NumTargets is how many target classes to try, at most NumClasses-1. If
	// NumTargets is 0, min(DefaultAPGDTTargets, NumClasses-1) is used.
	NumTargets int
	// Rho is the threshold of APGD's condition 1, in (0, 1]. If Rho is 0,
	// DefaultAPGDRho (0.75) is used.
	Rho float64
	// Seed seeds the starting points (PCG from math/rand/v2). Every seed,
	// including 0, is a fixed seed.
	Seed uint64
}

var _ robust.Attack = APGDT{}

// Validate reports whether the hyper-parameters are usable. Perturb calls it
// and also checks NumTargets against the model's classes.
func (a APGDT) Validate() error {
	if err := validateAPGD("APGDT", a.Eps, a.Norm, a.Steps, a.Restarts, a.Rho, 0); err != nil {
		return err
	}
	return checkCount("APGDT", "NumTargets", a.NumTargets)
}

// Perturb implements robust.Attack. m must be a robust.Differentiable with
// at least 4 classes.
func (a APGDT) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	const name = "APGDT"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, g, b, err := prepareGradient(name, m, x, y, nil, false, a.Norm, a.Eps)
	if err != nil {
		return nil, err
	}
	targets := a.NumTargets
	if targets == 0 {
		targets = min(DefaultAPGDTTargets, p.k-1)
	}
	if targets > p.k-1 {
		return nil, configErr("%s.NumTargets = %d, but the model has only %d classes other than the label", name, targets, p.k-1)
	}
	// Validate the objective shape (4 classes at least) before any work.
	probe := robust.Objective{Kind: robust.TargetedDLR, Labels: p.labels, Targets: p.labels}
	if err := probe.Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, stopped(name, "target", 1, err)
	}
	z, err := p.logits(ctx, m, p.x)
	if err != nil {
		return nil, failed(name, "ranking", 0, err)
	}
	ranked := rankOthers(z, p.labels, p.k)
	r := apgdRunner{name: name, steps: orInt(a.Steps, DefaultAPGDSteps), rho: a.Rho, ball: b}
	if r.rho == 0 {
		r.rho = DefaultAPGDRho
	}
	rng := newRNG(a.Seed, apgdtStream)
	best := newWorst(p.x, p.n, p.d)
	t := make([]int, p.n)
	for rank := range targets {
		for i := range t {
			t[i] = ranked[i][rank]
		}
		for range orInt(a.Restarts, DefaultRestarts) {
			if err := r.attack(ctx, g, p, best, robust.TargetedDLR, t, rng); err != nil {
				return nil, err
			}
		}
	}
	return p.tensor(b.finalize(p.x, best.adv, p.d)), nil
}

// rankOthers returns, per example, the classes other than its label sorted
// by decreasing logit, ties to the lowest index.
func rankOthers(z []float64, labels []int, k int) [][]int {
	out := make([][]int, len(labels))
	for i, y := range labels {
		row := z[i*k : (i+1)*k]
		cls := make([]int, 0, k-1)
		for j := 0; j < k; j++ {
			if j != y {
				cls = append(cls, j)
			}
		}
		sort.SliceStable(cls, func(a, b int) bool { return row[cls[a]] > row[cls[b]] })
		out[i] = cls
	}
	return out
}
