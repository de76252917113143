package eval_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

func TestEvaluateMNIST(t *testing.T) {
	m, ds := standardMNIST(t)
	const n = 60 // examples; batches of 25 leave a partial last batch
	s := eval.Suite{Name: "test", Epsilons: []float64{0.05, 0.3}, Seed: 7, Attacks: []eval.SuiteAttack{
		{Name: "FGSM", New: func(e float64) robust.Attack { return attack.FGSM{Eps: e} }},
		pgd(10),
	}}
	var calls []eval.Progress
	r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{
		Examples: n, BatchSize: 25, Progress: func(p eval.Progress) { calls = append(calls, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Schema != eval.ReportSchema || len(r.Examples) != n || r.Clean.Total != n {
		t.Fatalf("schema %q, %d examples, clean total %d", r.Schema, len(r.Examples), r.Clean.Total)
	}
	// 3 batches x (2 epsilons + the large-epsilon check) x 2 attacks.
	if len(calls) != 18 || calls[17].Done != 18 || calls[17].Total != 18 {
		t.Errorf("progress calls %d, last %+v; want 18 ending at 18 of 18", len(calls), calls[len(calls)-1])
	}

	// Clean predictions agree with the model.
	x, y, err := ds.Batch(indices(0, n))
	if err != nil {
		t.Fatal(err)
	}
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := tensors.Argmax(z)
	correct := 0
	for i, ex := range r.Examples {
		if ex.Index != i || ex.Label != y[i] || ex.CleanPred != pred[i] {
			t.Fatalf("example %d: %+v, want index %d label %d prediction %d", i, ex, i, y[i], pred[i])
		}
		if pred[i] == y[i] {
			correct++
		}
	}
	if r.Clean.Correct != correct || r.Clean.Accuracy != float64(correct)/n {
		t.Errorf("clean %+v, want %d correct", r.Clean, correct)
	}
	// The undefended model is robust to little at 0.05 and to nothing at 0.3.
	if r.Clean.Accuracy < 0.95 {
		t.Errorf("clean accuracy %v of the reference model, want >= 0.95", r.Clean.Accuracy)
	}
	if got := r.Results[1].WorstCase.Accuracy; got > 0.05 {
		t.Errorf("worst case at eps 0.3 is %v, want <= 0.05 for an undefended model", got)
	}

	for ei, res := range r.Results {
		worst := 0
		for _, ex := range r.Examples {
			if ex.CleanPred != ex.Label {
				if ex.Outcomes != nil {
					t.Errorf("example %d misclassified clean but attacked", ex.Index)
				}
				continue
			}
			robustAll := true
			for a, o := range ex.Outcomes[ei] {
				if o.Norm > res.Eps {
					t.Errorf("example %d %s at eps %v: norm %v", ex.Index, s.Attacks[a].Name, res.Eps, o.Norm)
				}
				robustAll = robustAll && o.Pred == ex.Label
			}
			if robustAll {
				worst++
			}
		}
		if res.WorstCase.Correct != worst {
			t.Errorf("eps %v: worst case %d, want %d", res.Eps, res.WorstCase.Correct, worst)
		}
		for _, a := range res.Attacks {
			if a.Robust.Correct < worst || a.Robust.Correct+a.Successes != correct || a.Attacked != correct {
				t.Errorf("eps %v %s: %+v with %d correct, worst %d", res.Eps, a.Name, a, correct, worst)
			}
			if a.Successes > 0 && (a.MedianNorm <= 0 || a.MedianNorm > res.Eps || a.MeanNorm > res.Eps) {
				t.Errorf("eps %v %s: norms mean %v median %v", res.Eps, a.Name, a.MeanNorm, a.MedianNorm)
			}
		}
	}

	// Cost: FGSM takes one gradient per attacked example and epsilon; PGD-10
	// ten; the evaluator two forward passes and two gradients per example
	// plus one forward pass per attack output.
	c := r.Cost
	if len(c.Runs) != 6 {
		t.Fatalf("%d run costs, want 6", len(c.Runs))
	}
	for _, rc := range c.Runs {
		want := int64(correct)
		if rc.Attack == "PGD" {
			want *= 10
		}
		if rc.Calls.GradImages != want {
			t.Errorf("%s at %v: %d gradient images, want %d", rc.Attack, rc.Eps, rc.Calls.GradImages, want)
		}
	}
	ev := eval.Calls{Logits: 3*2 + 3*6, LogitsImages: 2*n + 6*int64(correct), Grad: 3 * 2, GradImages: 2 * n}
	if c.Evaluator != ev {
		t.Errorf("evaluator calls %+v, want %+v", c.Evaluator, ev)
	}
	st := r.Settings
	if st.Seed != 7 || st.BatchSize != 25 || st.Examples != n || st.LargeEps != 1 || len(st.Attacks[1].Configs) != 3 || !st.Attacks[1].Reseeded || st.Attacks[0].Reseeded {
		t.Errorf("settings %+v", st)
	}
	if r.Environment.GoVersion == "" || r.Environment.Module == "" {
		t.Errorf("environment %+v", r.Environment)
	}
}

func TestEvaluateParallelAndRepeatable(t *testing.T) {
	m, ds := standardMNIST(t)
	s := eval.Suite{Epsilons: []float64{0.1}, Attacks: []eval.SuiteAttack{pgd(5), square(20)}, LargeEps: -1}
	var reps []*eval.Report
	for _, par := range []int{1, 3, 1} {
		r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{Examples: 40, BatchSize: 10, Parallel: par})
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	for i := 1; i < len(reps); i++ {
		compareReports(t, reps[0], reps[i])
	}
	// Another seed gives other random starts.
	s.Seed = 1
	r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{Examples: 40, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for i, ex := range r.Examples {
		if ex.Outcomes == nil {
			continue
		}
		for a, o := range ex.Outcomes[0] {
			same = same && o == reps[0].Examples[i].Outcomes[0][a]
		}
	}
	if same {
		t.Error("seed 1 gave the same outcomes as seed 0")
	}
}

func TestEvaluateErrors(t *testing.T) {
	m, ds := standardMNIST(t)
	ok := eval.Suite{Epsilons: []float64{0.1}, Attacks: []eval.SuiteAttack{pgd(2)}}
	bad := func(f func(*eval.Suite)) eval.Suite {
		s := ok
		s.Attacks = append([]eval.SuiteAttack(nil), ok.Attacks...)
		f(&s)
		return s
	}
	cases := []struct {
		name string
		s    eval.Suite
		opts *eval.EvaluateOptions
		want error
	}{
		{"no epsilons", bad(func(s *eval.Suite) { s.Epsilons = nil }), nil, robust.ErrConfig},
		{"decreasing epsilons", bad(func(s *eval.Suite) { s.Epsilons = []float64{0.2, 0.1} }), nil, robust.ErrConfig},
		{"zero epsilon", bad(func(s *eval.Suite) { s.Epsilons = []float64{0} }), nil, robust.ErrConfig},
		{"NaN epsilon", bad(func(s *eval.Suite) { s.Epsilons = []float64{math.NaN()} }), nil, robust.ErrConfig},
		{"unknown norm", bad(func(s *eval.Suite) { s.Norm = 7 }), nil, robust.ErrConfig},
		{"no attacks", bad(func(s *eval.Suite) { s.Attacks = nil }), nil, robust.ErrConfig},
		{"duplicate names", bad(func(s *eval.Suite) { s.Attacks = append(s.Attacks, pgd(3)) }), nil, robust.ErrConfig},
		{"nil constructor", bad(func(s *eval.Suite) { s.Attacks[0].New = nil }), nil, robust.ErrConfig},
		{"nil attack", bad(func(s *eval.Suite) { s.Attacks[0].New = func(float64) robust.Attack { return nil } }), nil, robust.ErrConfig},
		{"attack rejects settings", bad(func(s *eval.Suite) {
			s.Attacks[0].New = func(e float64) robust.Attack { return attack.PGD{Eps: e, Steps: -1} }
		}), nil, robust.ErrConfig},
		{"large eps below the epsilons", bad(func(s *eval.Suite) { s.LargeEps = 0.05 }), nil, robust.ErrConfig},
		{"bad shard", ok, &eval.EvaluateOptions{Shard: eval.Shard{Index: 2, Count: 2}}, robust.ErrConfig},
		{"too many examples", ok, &eval.EvaluateOptions{Examples: ds.Len() + 1}, robust.ErrConfig},
		{"negative batch", ok, &eval.EvaluateOptions{BatchSize: -1}, robust.ErrConfig},
		{"attack leaves the ball", bad(func(s *eval.Suite) {
			s.Attacks[0].New = func(e float64) robust.Attack { return overshoot{e} }
		}), &eval.EvaluateOptions{Examples: 5}, robust.ErrBounds},
		{"attack fails", bad(func(s *eval.Suite) {
			s.Attacks[0].New = func(e float64) robust.Attack { return attack.PGD{Eps: e, Steps: 2} }
		}), &eval.EvaluateOptions{Examples: 5}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var model robust.Classifier = m
			if c.name == "attack fails" {
				// PGD needs gradients; a black box has none.
				model = softmaxModel{m}
				c.want = robust.ErrNoGradient
			}
			r, err := eval.Evaluate(context.Background(), model, ds, c.s, c.opts)
			if !errors.Is(err, c.want) || r != nil {
				t.Errorf("got report %v, error %v; want %v", r != nil, err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eval.Evaluate(ctx, m, ds, ok, &eval.EvaluateOptions{Examples: 5}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// overshoot is a broken attack that moves every pixel by twice its budget.
type overshoot struct{ eps float64 }

func (a overshoot) Perturb(_ context.Context, _ robust.Classifier, x *tensor.Dense, _ []int) (*tensor.Dense, error) {
	v := append([]float32(nil), x.Data().([]float32)...)
	for i := range v {
		if v[i] < 0.5 {
			v[i] += float32(2 * a.eps)
		} else {
			v[i] -= float32(2 * a.eps)
		}
	}
	return tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(v)), nil
}

func indices(lo, hi int) []int {
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	return idx
}
