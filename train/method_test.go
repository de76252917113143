package train

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
)

// recorder is a reseedable "attack" that returns x unchanged and records
// the seed and batch of every call.
type recorder struct {
	seed  uint64
	seeds *[]uint64
	xs    *[][]float32
}

func (r recorder) WithSeed(seed uint64) robust.Attack { r.seed = seed; return r }

func (r recorder) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	*r.seeds = append(*r.seeds, r.seed)
	if r.xs != nil {
		*r.xs = append(*r.xs, slices.Clone(x.Data().([]float32)))
	}
	return x, nil
}

// TestAdversarialUsesItsAttack checks that Adversarial trains on its
// attack's examples, with a fresh seed per batch, and that its clean
// fraction weighs in a clean step.
func TestAdversarialUsesItsAttack(t *testing.T) {
	ds := subset(t, true, 200)
	for _, cf := range []float64{0, 0.5} {
		var seeds []uint64
		tr := Trainer{Method: Adversarial{Attack: recorder{seeds: &seeds}, CleanFraction: cf},
			Epochs: 1, BatchSize: 50, Schedule: Constant{Rate: 0.01}, Seed: 8}
		h, err := tr.Fit(context.Background(), newModel(t, tinySpec()), ds)
		if err != nil {
			t.Fatal(err)
		}
		if len(seeds) != 4 || len(slices.Compact(slices.Sorted(slices.Values(seeds)))) != 4 {
			t.Errorf("clean fraction %v: attack seeds %v, want 4 distinct (one per batch)", cf, seeds)
		}
		if h.Method != "adversarial" || h.Steps != 4 {
			t.Errorf("clean fraction %v: history method %q, steps %d", cf, h.Method, h.Steps)
		}
	}
}

func TestHistoryMethodNames(t *testing.T) {
	for _, c := range []struct {
		m    Method
		want string
	}{
		{nil, "standard"},
		{Standard{Temperature: 2}, "standard"},
		{Adversarial{Attack: attack.FGSMRS{Eps: 0.1}}, "fgsm-rs"},
		{Adversarial{Attack: attack.PGD{Eps: 0.1, Steps: 1}}, "pgd-at"},
		{Adversarial{Attack: attack.FGSM{Eps: 0.1}}, "adversarial"},
		{TRADES{Eps: 0.1, Steps: 1}, "trades"},
	} {
		tr := Trainer{Method: c.m, Epochs: 1, BatchSize: 50, Schedule: Constant{Rate: 0.01}}
		h, err := tr.Fit(context.Background(), newModel(t, tinySpec()), subset(t, true, 50))
		if err != nil {
			t.Fatal(err)
		}
		if h.Method != c.want {
			t.Errorf("%#v: History.Method %q, want %q", c.m, h.Method, c.want)
		}
	}
}

// TestFitIsDeterministic trains twice with one seed, through the hold-out,
// the shuffle, TRADES's random starts, dropout and early stopping's attack,
// and requires bit-identical weights; another seed must differ.
func TestFitIsDeterministic(t *testing.T) {
	ds := subset(t, true, 300)
	fit := func(seed uint64) [][]float32 {
		tr := Trainer{Method: TRADES{Eps: 0.1, Steps: 2, Beta: 1}, Epochs: 2, BatchSize: 50,
			Schedule: Cyclic{Max: 0.01}, Seed: seed, Validation: 50,
			EarlyStop: &EarlyStop{Attack: attack.PGD{Eps: 0.1, Steps: 2}}}
		m := newModel(t, tinySpec())
		if _, err := tr.Fit(context.Background(), m, ds); err != nil {
			t.Fatal(err)
		}
		return weights(m)
	}
	a, b, c := fit(4), fit(4), fit(5)
	if !reflect.DeepEqual(a, b) {
		t.Error("two trainings with seed 4 ended with different weights")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 4 and 5 ended with the same weights")
	}
}

// TestValidationIsDataSplit checks that Trainer.Validation holds out the
// examples data.Split holds out for the same seed and size, in order.
func TestValidationIsDataSplit(t *testing.T) {
	ds := subset(t, true, 300)
	const v, seed = 40, 13
	var seeds []uint64
	var xs [][]float32
	tr := Trainer{Epochs: 1, BatchSize: 100, Schedule: Constant{Rate: 0.01}, Seed: seed, Validation: v,
		EarlyStop: &EarlyStop{Attack: recorder{seeds: &seeds, xs: &xs}}}
	if _, err := tr.Fit(context.Background(), newModel(t, tinySpec()), ds); err != nil {
		t.Fatal(err)
	}
	_, held, err := data.Split(ds, v, seed)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := held.Batch(allIdx(v))
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 1 || !slices.Equal(xs[0], want.Data().([]float32)) {
		t.Error("the validation examples are not the ones data.Split holds out")
	}
}
