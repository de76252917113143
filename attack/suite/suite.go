// Package suite holds ready-made eval.Suite values: the attack lists that
// eval.Evaluate runs at every epsilon.
//
// It lives under attack, not robust, because a suite builds attacks: robust
// is the vocabulary that attack imports, so eval.Evaluate takes attacks as
// values and this package, which imports both, supplies them. Nothing here
// is needed to write a suite of one's own; any robust.Attack will do.
//
// Every suite is LInf, seeds its attacks from Suite.Seed through
// robust.Reseedable (set Seed on the returned value to change it), and sets
// every hyper-parameter explicitly, so that a report's attack settings show
// the values used rather than zero fields standing for defaults.
//
// # Quick
//
// A fast first look, FGSM and PGD-20: FGSM (one step of Eps along the sign
// of the cross-entropy gradient) and PGD with 20 steps of 2.5*Eps/20 from a
// uniform random start, one run. Cost per example and epsilon: 21 gradient
// and 1 forward evaluation. Good at exposing an undefended model, too weak
// to certify a defended one.
//
// # Strong
//
// In the spirit of AutoAttack's standard version (Croce and Hein, ICML 2020,
// https://arxiv.org/abs/2003.01690), with its settings: APGD-CE (100
// iterations, one run), APGD-T (targeted DLR, 100 iterations toward each of
// the 9 most likely other classes, or all others with fewer than 10 classes,
// one run each) and Square (5000 queries,
// p_init 0.8), each run on every correctly classified example. It differs
// from AutoAttack in two ways: FAB-T is missing (no implementation here yet),
// and the attacks are not chained (AutoAttack runs each one only on the
// points its predecessors did not break), which costs more but gives every
// attack's own robust accuracy and the gradient-masking check. Cost per
// example and epsilon, at most: about 200 evaluations for APGD-CE, 1,800
// for APGD-T, 5,000 forward passes for Square; the last two stop early on
// broken examples.
//
// # PGDRestarts
//
// PGD with many steps and random restarts and a fixed step size, the attack
// the MNIST robustness literature reports (Madry et al. use PGD-100 with 50
// restarts; Wong et al. PGD-50 with 10 restarts and step 0.01).
package suite

import (
	"fmt"
	"strings"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

// Names of the suites ByName knows; "pgd50x10" is PGDRestarts(50, 10,
// 0.01), the evaluation of Wong et al. (2020) and of examples/mnist.
const (
	quickName    = "quick"
	strongName   = "strong"
	pgd50x10Name = "pgd50x10"
)

// Settings of the suites, as the package documentation states them.
const (
	quickPGDSteps     = 20
	strongAPGDSteps   = attack.DefaultAPGDSteps
	strongSquareQuery = attack.DefaultSquareQueries
	strongSquarePInit = attack.DefaultSquarePInit
)

// Quick returns FGSM and PGD-20 at the given LInf epsilons.
func Quick(eps ...float64) eval.Suite {
	return eval.Suite{
		Name:     quickName,
		Norm:     robust.LInf,
		Epsilons: eps,
		Attacks: []eval.SuiteAttack{
			{Name: "FGSM", New: func(e float64) robust.Attack {
				return attack.FGSM{Eps: e, Norm: robust.LInf, Loss: robust.CrossEntropy}
			}},
			{Name: fmt.Sprintf("PGD-%d", quickPGDSteps), New: func(e float64) robust.Attack {
				return attack.PGD{Eps: e, Norm: robust.LInf, Steps: quickPGDSteps,
					Step: attack.DefaultStepFactor * e / quickPGDSteps, Restarts: 1, Loss: robust.CrossEntropy}
			}},
		},
	}
}

// Strong returns APGD-CE, APGD-T and Square at the given LInf epsilons.
func Strong(eps ...float64) eval.Suite {
	return eval.Suite{
		Name:     strongName,
		Norm:     robust.LInf,
		Epsilons: eps,
		Attacks: []eval.SuiteAttack{
			{Name: "APGD-CE", New: func(e float64) robust.Attack {
				return attack.APGD{Eps: e, Norm: robust.LInf, Steps: strongAPGDSteps, Restarts: 1,
					Loss: robust.CrossEntropy, Rho: attack.DefaultAPGDRho}
			}},
			{Name: "APGD-T", New: func(e float64) robust.Attack {
				// NumTargets 0 means min(9, classes-1), as in AutoAttack,
				// so that the suite also serves models of fewer classes.
				return attack.APGDT{Eps: e, Norm: robust.LInf, Steps: strongAPGDSteps, Restarts: 1, Rho: attack.DefaultAPGDRho}
			}},
			{Name: "Square", BlackBox: true, New: func(e float64) robust.Attack {
				return attack.Square{Eps: e, MaxQueries: strongSquareQuery, PInit: strongSquarePInit}
			}},
		},
	}
}

// PGDRestarts returns one attack, LInf PGD with the given steps, restarts
// and step size (cross-entropy, random start), at the given epsilons. Each
// run freezes an example at its first adversarial iterate (StopOnSuccess,
// the rule of Wong et al.'s evaluation code) and an example counts as
// robust only if no restart breaks it, which is stricter than keeping the
// restart of highest loss.
func PGDRestarts(steps, restarts int, step float64, eps ...float64) eval.Suite {
	name := fmt.Sprintf("PGD-%dx%d", steps, restarts)
	return eval.Suite{
		Name:     strings.ToLower(strings.ReplaceAll(name, "-", "")),
		Norm:     robust.LInf,
		Epsilons: eps,
		Attacks: []eval.SuiteAttack{
			{Name: name, New: func(e float64) robust.Attack {
				return attack.PGD{Eps: e, Norm: robust.LInf, Steps: steps, Step: step, Restarts: restarts, Loss: robust.CrossEntropy, StopOnSuccess: true}
			}},
		},
	}
}

// ByName returns the suite called name ("quick", "strong" or "pgd50x10")
// at the given epsilons.
func ByName(name string, eps ...float64) (eval.Suite, error) {
	switch name {
	case quickName:
		return Quick(eps...), nil
	case strongName:
		return Strong(eps...), nil
	case pgd50x10Name:
		return PGDRestarts(50, 10, 0.01, eps...), nil
	}
	return eval.Suite{}, fmt.Errorf("suite: unknown suite %q, want %q, %q or %q: %w", name, quickName, strongName, pgd50x10Name, robust.ErrConfig)
}
