package robust

import (
	"fmt"
	"math"

	"github.com/gorobust/gorobust/internal/softmax"
)

// ObjectiveKind names an attack objective. Every kind is defined so that
// ASCENDING it is the attacker's direction.
type ObjectiveKind int

const (
	// CrossEntropy is -log softmax(z)[y]: the untargeted attacker raises the
	// loss of the true label.
	CrossEntropy ObjectiveKind = iota + 1
	// TargetedCrossEntropy is log softmax(z)[t]: ascending it lowers the
	// target's cross-entropy.
	TargetedCrossEntropy
	// Margin is the Carlini-Wagner margin max_{j != y} z_j - z_y, positive
	// exactly when the example is misclassified.
	Margin
	// TargetedMargin is z_t - max_{j != t} z_j, positive exactly when the
	// target class wins.
	TargetedMargin
	// DLR is the Difference of Logits Ratio of Croce and Hein (2020),
	// -(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3 + 1e-12), where pi sorts the
	// logits in decreasing order. It is invariant to shifts and scalings of
	// the logits. Needs at least 3 classes.
	DLR
	// TargetedDLR is -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12), the
	// targeted variant of DLR. Needs at least 4 classes.
	TargetedDLR
	// KL is KL(r || softmax(z)) = sum_j r_j (log r_j - log softmax(z)_j) for
	// reference probabilities r, the inner maximisation of TRADES.
	KL
)

// dlrEps keeps DLR finite when the top logits tie; the value is the one of
// the AutoAttack reference implementation.
const dlrEps = 1e-12

func (k ObjectiveKind) String() string {
	switch k {
	case CrossEntropy:
		return "cross-entropy"
	case TargetedCrossEntropy:
		return "targeted-cross-entropy"
	case Margin:
		return "margin"
	case TargetedMargin:
		return "targeted-margin"
	case DLR:
		return "dlr"
	case TargetedDLR:
		return "targeted-dlr"
	case KL:
		return "kl"
	}
	return fmt.Sprintf("ObjectiveKind(%d)", int(k))
}

// Targeted reports whether the kind needs Objective.Targets.
func (k ObjectiveKind) Targeted() bool {
	return k == TargetedCrossEntropy || k == TargetedMargin || k == TargetedDLR
}

// Objective is what an attack ascends for a batch of N examples.
type Objective struct {
	Kind ObjectiveKind
	// Labels are the true labels, one per example. Required by every kind but KL.
	Labels []int
	// Targets are the target classes of targeted kinds, one per example.
	Targets []int
	// Reference holds the N x K reference probabilities of KL, row-major
	// (row i is example i's distribution); other kinds ignore it.
	Reference []float64
}

// Validate checks the objective against a batch of n examples and k classes.
func (o Objective) Validate(n, k int) error {
	switch o.Kind {
	case CrossEntropy, TargetedCrossEntropy, Margin, TargetedMargin, DLR, TargetedDLR, KL:
	default:
		return objectiveErr(ErrConfig, "Objective.Kind = %d, want one of the ObjectiveKind constants", int(o.Kind))
	}
	if k < 2 {
		return objectiveErr(ErrConfig, "Objective.Kind = %v needs at least 2 classes, the model has %d", o.Kind, k)
	}
	if o.Kind == DLR && k < 3 {
		return objectiveErr(ErrConfig, "Objective.Kind = dlr needs at least 3 classes, the model has %d", k)
	}
	if o.Kind == TargetedDLR && k < 4 {
		return objectiveErr(ErrConfig, "Objective.Kind = targeted-dlr needs at least 4 classes, the model has %d", k)
	}
	if o.Kind == KL {
		if o.Reference == nil {
			return objectiveErr(ErrConfig, "Objective.Reference = nil, want the N x K reference probabilities of kl")
		}
		if len(o.Reference) != n*k {
			return objectiveErr(ErrShape, "Objective.Reference has %d values, want %d x %d = %d", len(o.Reference), n, k, n*k)
		}
		ref := o.Reference
		for i := 0; i < n; i++ {
			sum := 0.0
			for j := 0; j < k; j++ {
				r := ref[i*k+j]
				if math.IsNaN(r) || r < 0 || r > 1 {
					return objectiveErr(ErrConfig, "Objective.Reference[%d*%d+%d] = %v, want a probability in [0, 1]", i, k, j, r)
				}
				sum += r
			}
			if math.Abs(sum-1) > 1e-3 {
				return objectiveErr(ErrConfig, "Objective.Reference row %d sums to %v, want 1", i, sum)
			}
		}
		return nil
	}
	if err := checkLabels("Labels", o.Labels, n, k); err != nil {
		return err
	}
	if o.Kind.Targeted() {
		if err := checkLabels("Targets", o.Targets, n, k); err != nil {
			return err
		}
	}
	return nil
}

// objectiveErr is an error of the one shape: "robust: Objective.Field =
// value, want ...", wrapping sentinel.
func objectiveErr(sentinel error, format string, args ...any) error {
	return fmt.Errorf("robust: "+format+": %w", append(args, sentinel)...)
}

func checkLabels(field string, ls []int, n, k int) error {
	if len(ls) != n {
		return objectiveErr(ErrShape, "Objective.%s has %d entries, want one per example (%d)", field, len(ls), n)
	}
	for i, l := range ls {
		if l < 0 || l >= k {
			return objectiveErr(ErrLabel, "Objective.%s[%d] = %d, want a class in [0, %d)", field, i, l, k)
		}
	}
	return nil
}

// Eval computes each example's objective value and, when grad is not nil,
// the gradient of each value with respect to that example's logits. logits
// and grad hold n x k values in row-major order; loss holds n values. It
// returns Validate's error, or an ErrShape error if a slice is shorter than
// n x k (n for loss), and then computes nothing.
func (o Objective) Eval(logits []float64, n, k int, loss, grad []float64) error {
	if err := o.Validate(n, k); err != nil {
		return err
	}
	if len(logits) < n*k || len(loss) < n || (grad != nil && len(grad) < n*k) {
		return objectiveErr(ErrShape, "Objective.Eval of %d x %d logits got %d logits, %d losses and %d gradients", n, k, len(logits), len(loss), len(grad))
	}
	ref := o.Reference
	p := make([]float64, k)
	for i := 0; i < n; i++ {
		z := logits[i*k : (i+1)*k]
		var g []float64
		if grad != nil {
			g = grad[i*k : (i+1)*k]
			for j := range g {
				g[j] = 0
			}
		}
		switch o.Kind {
		case CrossEntropy, TargetedCrossEntropy:
			lse := softmax.Into(z, p)
			c, sign := 0, 1.0
			if o.Kind == CrossEntropy {
				c = o.Labels[i]
			} else {
				c, sign = o.Targets[i], -1
			}
			loss[i] = sign * (lse - z[c])
			if g != nil {
				for j := range g {
					g[j] = sign * p[j]
				}
				g[c] -= sign
			}
		case Margin:
			y := o.Labels[i]
			m := argmaxExcept(z, y)
			loss[i] = z[m] - z[y]
			if g != nil {
				g[m], g[y] = 1, -1
			}
		case TargetedMargin:
			t := o.Targets[i]
			m := argmaxExcept(z, t)
			loss[i] = z[t] - z[m]
			if g != nil {
				g[t], g[m] = 1, -1
			}
		case DLR:
			y := o.Labels[i]
			m := argmaxExcept(z, y)
			pi := topIndices(z, 3)
			a := z[y] - z[m]
			d := z[pi[0]] - z[pi[2]] + dlrEps
			loss[i] = -a / d
			if g != nil {
				g[y] -= 1 / d
				g[m] += 1 / d
				g[pi[0]] += a / (d * d)
				g[pi[2]] -= a / (d * d)
			}
		case TargetedDLR:
			y, t := o.Labels[i], o.Targets[i]
			pi := topIndices(z, 4)
			a := z[y] - z[t]
			d := z[pi[0]] - (z[pi[2]]+z[pi[3]])/2 + dlrEps
			loss[i] = -a / d
			if g != nil {
				g[y] -= 1 / d
				g[t] += 1 / d
				g[pi[0]] += a / (d * d)
				g[pi[2]] -= a / (2 * d * d)
				g[pi[3]] -= a / (2 * d * d)
			}
		case KL:
			lse := softmax.Into(z, p)
			r := ref[i*k : (i+1)*k]
			l := 0.0
			for j := range r {
				if r[j] > 0 {
					l += r[j] * (math.Log(r[j]) - (z[j] - lse))
				}
			}
			loss[i] = l
			// d/dz of -sum_j r_j log p_j is p - r when sum_j r_j = 1; a nil
			// g ranges over nothing.
			for j := range g {
				g[j] = p[j] - r[j]
			}
		}
	}
	return nil
}

// argmaxExcept returns the index of the largest z[j], j != skip; ties go to
// the lowest index so results are deterministic.
func argmaxExcept(z []float64, skip int) int {
	best := -1
	for j, v := range z {
		if j != skip && (best < 0 || v > z[best]) {
			best = j
		}
	}
	return best
}

// topIndices returns the indices of the r largest logits in decreasing
// order, ties broken by the lowest index.
func topIndices(z []float64, r int) []int {
	idx := make([]int, 0, r)
	used := make([]bool, len(z))
	for len(idx) < r {
		best := -1
		for j, v := range z {
			if !used[j] && (best < 0 || v > z[best]) {
				best = j
			}
		}
		used[best] = true
		idx = append(idx, best)
	}
	return idx
}
