package eval_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

// compareReports checks that b has a's settings and results, example by
// example. Environment, Cost and MergedFrom may differ.
func compareReports(t *testing.T, a, b *eval.Report) {
	t.Helper()
	if !reflect.DeepEqual(a.Settings, b.Settings) {
		t.Errorf("settings differ:\n%+v\n%+v", a.Settings, b.Settings)
	}
	if len(a.Examples) != len(b.Examples) {
		t.Fatalf("%d examples, want %d", len(b.Examples), len(a.Examples))
	}
	for i := range a.Examples {
		if !reflect.DeepEqual(a.Examples[i], b.Examples[i]) {
			t.Fatalf("example %d differs:\n%+v\n%+v", a.Examples[i].Index, a.Examples[i], b.Examples[i])
		}
	}
	if !reflect.DeepEqual(a.Clean, b.Clean) || !reflect.DeepEqual(a.Results, b.Results) || !reflect.DeepEqual(a.Sanity, b.Sanity) {
		t.Errorf("summaries differ:\n%+v %+v %+v\n%+v %+v %+v", a.Clean, a.Results, a.Sanity, b.Clean, b.Results, b.Sanity)
	}
}

// roundTrip encodes r as JSON and decodes it again.
func roundTrip(t *testing.T, r *eval.Report) *eval.Report {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := eval.ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMergedShardsEqualSingleRun(t *testing.T) {
	m, ds := standardMNIST(t)
	// 50 examples in batches of 8 and 3 shards [0, 16), [16, 33), [33, 50):
	// the batch [32, 40) straddles a shard boundary, and both randomized
	// attacks draw per-batch seeds.
	const n, batch, k = 50, 8, 3
	s := eval.Suite{Name: "merge", Epsilons: []float64{0.08, 0.15}, Seed: 42, Attacks: []eval.SuiteAttack{pgd(5), square(30)}}
	single, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{Examples: n, BatchSize: batch, Meta: map[string]string{"model": "standard"}})
	if err != nil {
		t.Fatal(err)
	}
	shards := make([]*eval.Report, k)
	for i := range shards {
		r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{
			Examples: n, BatchSize: batch, Shard: eval.Shard{Index: i, Count: k}, Parallel: 1 + i%2,
			Meta: map[string]string{"model": "standard"},
		})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := eval.Shard{Index: i, Count: k}.Range(n)
		if len(r.Examples) != hi-lo || r.Settings.Shard.Begin != lo || r.Settings.Shard.End != hi {
			t.Fatalf("shard %d holds %d examples from %+v, want [%d, %d)", i, len(r.Examples), r.Settings.Shard, lo, hi)
		}
		// Shards travel as JSON files between machines.
		shards[i] = roundTrip(t, r)
	}
	merged, err := eval.Merge(shards[2], shards[0], shards[1])
	if err != nil {
		t.Fatal(err)
	}
	if merged.MergedFrom != k {
		t.Errorf("MergedFrom %d, want %d", merged.MergedFrom, k)
	}
	compareReports(t, single, merged)
	// The run must have been worth comparing: some examples broken, some not.
	if w := single.Results[0].WorstCase.Correct; w == 0 || w == single.Clean.Correct {
		t.Errorf("worst case at eps %v keeps %d of %d; pick epsilons that split the examples", s.Epsilons[0], w, single.Clean.Correct)
	}
	// Straddling batches are evaluated by both shards, so the shards'
	// gradient evaluations add up to more than the single run's.
	if merged.Cost.Total.GradImages <= single.Cost.Total.GradImages {
		t.Errorf("merged gradient images %d, single run %d", merged.Cost.Total.GradImages, single.Cost.Total.GradImages)
	}

	t.Run("errors", func(t *testing.T) {
		other := *shards[1]
		other.Settings.Seed++
		dup := *shards[1]
		for name, set := range map[string][]*eval.Report{
			"missing shard":   {shards[0], shards[1]},
			"duplicate shard": {shards[0], shards[1], &dup},
			"other settings":  {shards[0], &other, shards[2]},
			"nothing":         nil,
		} {
			if _, err := eval.Merge(set...); !errors.Is(err, robust.ErrConfig) {
				t.Errorf("%s: %v", name, err)
			}
		}
		cut := *shards[1]
		cut.Examples = cut.Examples[1:]
		if _, err := eval.Merge(shards[0], &cut, shards[2]); err == nil {
			t.Error("a shard with a missing example merged")
		}
	})
}

func TestShardRange(t *testing.T) {
	// Shards tile [0, n) for any n and count, including more shards than
	// examples.
	for _, n := range []int{1, 7, 100, 10000} {
		for _, k := range []int{1, 2, 3, 7, 16} {
			next := 0
			for i := 0; i < k; i++ {
				lo, hi := eval.Shard{Index: i, Count: k}.Range(n)
				if lo != next || hi < lo {
					t.Fatalf("n %d shard %d of %d: [%d, %d) after %d", n, i, k, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n %d, %d shards end at %d", n, k, next)
			}
		}
	}
}

func TestMergeWithEmptyShard(t *testing.T) {
	// Two examples in three shards: shard 0 is empty.
	m, x, y, err := testmodel.Trained(2)
	if err != nil {
		t.Fatal(err)
	}
	ds := tensorDataset{x, y}
	s := eval.Suite{Epsilons: []float64{0.1}, Attacks: []eval.SuiteAttack{pgd(3)}}
	single, err := eval.Evaluate(context.Background(), m, ds, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var shards []*eval.Report
	for i := range 3 {
		r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{Shard: eval.Shard{Index: i, Count: 3}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (len(r.Examples) != 0 || flag(t, r, eval.FlagLargeEps).Checked) {
			t.Errorf("empty shard: %d examples, flags %+v", len(r.Examples), r.Sanity)
		}
		shards = append(shards, roundTrip(t, r))
	}
	merged, err := eval.Merge(shards...)
	if err != nil {
		t.Fatal(err)
	}
	compareReports(t, single, merged)
}
