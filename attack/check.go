package attack

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// configErr reports an invalid hyper-parameter, wrapping robust.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("attack: "+format+": %w", append(args, robust.ErrConfig)...)
}

// orInt applies an integer field's default: 0 means def.
func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkEps rejects a budget that is not a finite positive number.
func checkEps(name string, eps float64) error {
	if !finite(eps) || eps <= 0 {
		return configErr("%s.Eps = %v, want a finite value > 0", name, eps)
	}
	return nil
}

// checkNorm rejects a Norm that is neither zero (robust.LInf) nor a known constant.
func checkNorm(name string, n robust.Norm) error {
	if n != 0 && n != robust.LInf && n != robust.L2 {
		return configErr("%s.Norm = %d, want robust.LInf or robust.L2 (0 means LInf)", name, int(n))
	}
	return nil
}

// checkCount rejects a negative count; zero means the default.
func checkCount(name, field string, v int) error {
	if v < 0 {
		return configErr("%s.%s = %d, want >= 0 (0 means the default)", name, field, v)
	}
	return nil
}

// checkOptionalPositive rejects a set (non-zero) parameter that is not a
// finite positive number, and an upper bound when hi > 0.
func checkOptionalPositive(name, field string, v, hi float64) error {
	if v == 0 {
		return nil
	}
	if !finite(v) || v < 0 || (hi > 0 && v > hi) {
		if hi > 0 {
			return configErr("%s.%s = %v, want a value in (0, %v] (0 means the default)", name, field, v, hi)
		}
		return configErr("%s.%s = %v, want a finite value > 0 (0 means the default)", name, field, v)
	}
	return nil
}

// checkLoss accepts the untargeted objective families an attack can ascend.
// Targeted runs use the matching targeted kind (see targetedKind).
func checkLoss(name string, k robust.ObjectiveKind) error {
	switch k {
	case 0, robust.CrossEntropy, robust.Margin, robust.DLR:
		return nil
	}
	return configErr("%s.Loss = %v, want CrossEntropy, Margin or DLR (PerturbTargeted picks the targeted variant)", name, k)
}

// lossKind returns the objective a run ascends: the configured family, or
// its targeted counterpart for a targeted run. A zero kind means CrossEntropy.
func lossKind(k robust.ObjectiveKind, targeted bool) robust.ObjectiveKind {
	if k == 0 {
		k = robust.CrossEntropy
	}
	if !targeted {
		return k
	}
	switch k {
	case robust.Margin:
		return robust.TargetedMargin
	case robust.DLR:
		return robust.TargetedDLR
	}
	return robust.TargetedCrossEntropy
}

// prepare checks a call's model, inputs and labels and returns the problem
// the attack works on. targets is nil for an untargeted call.
func prepare(name string, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool) (*problem, error) {
	p, err := prepareInputs(name, m, x)
	if err != nil {
		return nil, err
	}
	if err := checkClasses(name, "y", y, p.n, p.k); err != nil {
		return nil, err
	}
	p.labels = y
	if targeted {
		if err := checkClasses(name, "targets", targets, p.n, p.k); err != nil {
			return nil, err
		}
		p.targets = targets
	}
	return p, nil
}

// prepareInputs checks a call's model and inputs and returns the problem
// without labels, for a caller-given objective (PGD.Ascend).
func prepareInputs(name string, m robust.Classifier, x *tensor.Dense) (*problem, error) {
	if m == nil {
		return nil, configErr("%s: nil model", name)
	}
	b := m.Bounds()
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("attack: %s: model bounds: %w", name, err)
	}
	n, xs, err := tensors.CheckImages(x, b)
	if err != nil {
		return nil, fmt.Errorf("attack: %s: x: %w", name, err)
	}
	k := m.NumClasses()
	if k < 2 {
		return nil, configErr("%s: model has %d classes, want >= 2", name, k)
	}
	s := x.Shape()
	return &problem{x: xs, n: n, d: len(xs) / n, c: s[1], h: s[2], w: s[3], k: k, bounds: b}, nil
}

func checkClasses(name, what string, ls []int, n, k int) error {
	if len(ls) != n {
		return fmt.Errorf("attack: %s: %d %s for %d examples: %w", name, len(ls), what, n, robust.ErrLabel)
	}
	for i, l := range ls {
		if l < 0 || l >= k {
			return fmt.Errorf("attack: %s: %s[%d] = %d, want [0, %d): %w", name, what, i, l, k, robust.ErrLabel)
		}
	}
	return nil
}

// checkBudget rejects an eps larger than the whole input range: for robust.LInf
// the bounds' width, for robust.L2 the diameter of the box, width*sqrt(d). Such a
// budget is almost always a scale mistake (8 instead of 8/255).
func checkBudget(name string, norm robust.Norm, eps float64, b robust.Bounds, d int) error {
	w := float64(b.Width())
	if norm == robust.LInf && eps > w {
		return configErr("%s.Eps = %v exceeds the width %v of the model's bounds [%v, %v]", name, eps, w, b.Min, b.Max)
	}
	if diam := w * math.Sqrt(float64(d)); norm == robust.L2 && eps > diam {
		return configErr("%s.Eps = %v exceeds the robust.L2 diameter %v of the input box", name, eps, diam)
	}
	return nil
}

// differentiable returns m's gradients or an error wrapping
// robust.ErrNoGradient.
func differentiable(name string, m robust.Classifier) (robust.Differentiable, error) {
	g, ok := m.(robust.Differentiable)
	if !ok {
		return nil, fmt.Errorf("attack: %s needs gradients; %T is not a robust.Differentiable (use Square): %w",
			name, m, robust.ErrNoGradient)
	}
	return g, nil
}
