package eval

import (
	"fmt"
	"math"
	"time"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/robust"
)

// Evaluation defaults.
const (
	// DefaultBatchSize is the batch size when EvaluateOptions.BatchSize is 0.
	DefaultBatchSize = 100
	// LargeEpsTolerance is the highest worst-case robust accuracy the
	// large-epsilon check accepts: an attack with the whole input range as
	// its budget should break (almost) every example.
	LargeEpsTolerance = 0.01
)

// SuiteAttack is one attack of a Suite: a name and a way to build the attack
// for a budget, because an attack carries its own epsilon.
type SuiteAttack struct {
	// Name identifies the attack in reports, for example "APGD-CE". Names
	// are unique within a suite and seed the attack (see batchSeed).
	Name string
	// New returns the attack with budget eps, measured in the suite's Norm.
	// It must be deterministic: Evaluate calls it once per batch, attack and
	// epsilon, and records fmt's %+v of its result for every epsilon as the
	// attack's settings.
	New func(eps float64) robust.Attack
	// BlackBox marks a score-based attack that uses only Logits. The
	// gradient-masking check compares black-box attacks with the others.
	BlackBox bool
}

// Suite is a list of attacks, each evaluated at every epsilon of a list.
type Suite struct {
	// Name names the suite in reports, for example "strong".
	Name string
	// Norm measures the epsilons and the reported perturbation sizes; the
	// zero Norm means robust.LInf.
	Norm robust.Norm
	// Epsilons are the budgets, in the model's pixel units, strictly
	// increasing and greater than 0.
	Epsilons []float64
	// Attacks are run at every epsilon, each on every example the model
	// classifies correctly.
	Attacks []SuiteAttack
	// Seed seeds every randomized attack through robust.Reseedable: see
	// batchSeed. Every seed, including 0, is a fixed seed.
	Seed uint64
	// LargeEps is the budget of the large-epsilon sanity check, which runs
	// every attack once more at a budget so large that (almost) every
	// example should break. If LargeEps is 0, the whole input range is used:
	// the bounds' width for LInf, width*sqrt(C*H*W) for L2. A
	// negative LargeEps skips the check.
	LargeEps float64
}

// Shard selects the part of an evaluation one process runs: shard Index of
// Count evaluates the examples [Index*n/Count, (Index+1)*n/Count) of the n
// examples of the whole evaluation. The zero value is the whole evaluation.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Range returns the examples [begin, end) of shard s of n examples.
func (s Shard) Range(n int) (begin, end int) {
	c := max(s.Count, 1)
	return s.Index * n / c, (s.Index + 1) * n / c
}

// Validate reports whether s is a shard: 0 <= Index < Count, or both 0.
func (s Shard) Validate() error {
	if s == (Shard{}) {
		return nil
	}
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("eval: Shard = {Index: %d, Count: %d}, want 0 <= Index < Count: %w", s.Index, s.Count, robust.ErrConfig)
	}
	return nil
}

// EvaluateOptions configure Evaluate. A nil *EvaluateOptions means the
// defaults.
type EvaluateOptions struct {
	// BatchSize is the number of examples attacked together. It is part of
	// the experiment, not just of its speed: batches are the units that
	// seeds are drawn for. If 0, DefaultBatchSize (100) is used.
	BatchSize int
	// Examples limits the evaluation to the first Examples examples of the
	// dataset; 0 means all.
	Examples int
	// Shard selects the part of the examples this call evaluates.
	Shard Shard
	// Parallel is the number of batches evaluated at once; results do not
	// depend on it. If 0, 1 is used: a model from robust/nn already spreads
	// each batch over all cores. (On 2 cores, the reference MNIST CNN and
	// the quick suite on 1000 examples, Parallel 2, with or without one
	// replica per batch, took the same CPU time as Parallel 1 and was not
	// faster beyond the noise of a shared machine.) Raise it for models
	// that do not parallelise a batch themselves.
	Parallel int
	// Progress, when not nil, is called after each attack run on a batch.
	// Calls never overlap.
	Progress func(Progress)
	// Meta is copied into the report's settings: a place for what Evaluate
	// cannot know, such as the model file and its digest or the dataset.
	Meta map[string]string
}

// Progress describes how far an evaluation has come.
type Progress struct {
	// Done and Total count attack runs on a batch: Total is the number of
	// batches times the number of epsilons (with the large-epsilon check)
	// times the number of attacks.
	Done, Total int
	// Attack and Eps name the run that just finished.
	Attack string
	Eps    float64
	// Elapsed is the time since Evaluate started.
	Elapsed time.Duration
}

func (s Suite) norm() robust.Norm {
	if s.Norm == 0 {
		return robust.LInf
	}
	return s.Norm
}

// Validate reports whether the suite can run: a known norm, increasing
// positive epsilons, at least one attack, unique non-empty names and
// constructors that return an attack for every epsilon. When an attack has a
// Validate() error method, it is called for every epsilon.
func (s Suite) Validate() error {
	if err := s.Norm.Validate(); err != nil {
		return fmt.Errorf("eval: Suite.Norm: %w", err)
	}
	if len(s.Epsilons) == 0 {
		return fmt.Errorf("eval: Suite.Epsilons of suite %q is empty, want at least one budget: %w", s.Name, robust.ErrConfig)
	}
	for i, e := range s.Epsilons {
		if math.IsNaN(e) || math.IsInf(e, 0) || e <= 0 {
			return fmt.Errorf("eval: Suite.Epsilons[%d] = %v, want a finite value > 0: %w", i, e, robust.ErrConfig)
		}
		if i > 0 && e <= s.Epsilons[i-1] {
			return fmt.Errorf("eval: Suite.Epsilons[%d] = %v after %v, want strictly increasing budgets: %w", i, e, s.Epsilons[i-1], robust.ErrConfig)
		}
	}
	if math.IsNaN(s.LargeEps) || math.IsInf(s.LargeEps, 0) {
		return fmt.Errorf("eval: Suite.LargeEps = %v, want a finite value: %w", s.LargeEps, robust.ErrConfig)
	}
	if last := s.Epsilons[len(s.Epsilons)-1]; s.LargeEps > 0 && s.LargeEps <= last {
		return fmt.Errorf("eval: Suite.LargeEps = %v, want more than the largest epsilon %v (0: the input range, < 0: skip the check): %w", s.LargeEps, last, robust.ErrConfig)
	}
	if len(s.Attacks) == 0 {
		return fmt.Errorf("eval: Suite.Attacks of suite %q is empty, want at least one attack: %w", s.Name, robust.ErrConfig)
	}
	seen := map[string]bool{}
	for i, a := range s.Attacks {
		if a.Name == "" {
			return fmt.Errorf("eval: Suite.Attacks[%d].Name is empty, want a unique name: %w", i, robust.ErrConfig)
		}
		if seen[a.Name] {
			return fmt.Errorf("eval: Suite.Attacks[%d].Name = %q is used twice, want unique names: %w", i, a.Name, robust.ErrConfig)
		}
		seen[a.Name] = true
		if a.New == nil {
			return fmt.Errorf("eval: Suite.Attacks[%d].New = nil (attack %q), want a constructor: %w", i, a.Name, robust.ErrConfig)
		}
		for _, e := range s.Epsilons {
			if err := checkAttack(a, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAttack builds a at eps and validates it when it can.
func checkAttack(a SuiteAttack, eps float64) error {
	atk := a.New(eps)
	if atk == nil {
		return fmt.Errorf("eval: suite attack %q returned no attack for eps %v: %w", a.Name, eps, robust.ErrConfig)
	}
	if v, ok := atk.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("suite attack %q at eps %v: %w", a.Name, eps, err)
		}
	}
	return nil
}

// largeEps returns the budget of the large-epsilon check for inputs of d
// values in bounds b, or 0 when the check is off.
func (s Suite) largeEps(b robust.Bounds, d int) float64 {
	switch {
	case s.LargeEps < 0:
		return 0
	case s.LargeEps > 0:
		return s.LargeEps
	case s.norm() == robust.L2:
		return float64(b.Width()) * math.Sqrt(float64(d))
	}
	return float64(b.Width())
}

// batchSeed is the seed Evaluate gives, through robust.Reseedable, to the
// attack called name at budget eps on batch j, the examples
// [j*BatchSize, (j+1)*BatchSize) of the evaluation. Batches are numbered
// from the start of the whole evaluation, not of a shard, and the seed does
// not depend on the order of attacks or epsilons in the suite, so a batch
// can be rerun alone. It mixes its inputs with SplitMix64 and FNV-1a.
func batchSeed(seed uint64, name string, eps float64, j int) uint64 {
	return mix.Named(seed, name, eps, j)
}
