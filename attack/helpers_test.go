package attack_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

// attackCase is one configured attack and the ball its outputs must lie in.
type attackCase struct {
	name     string
	atk      robust.Attack
	norm     robust.Norm
	eps      float64
	gradient bool // needs a robust.Differentiable
}

// attackCases returns every attack in every norm it supports, with small
// budgets so that the invariant suite stays fast on any model. epsInf and
// epsL2 are the LInf and L2 radii in the model's pixel units.
func attackCases(epsInf, epsL2 float64) []attackCase {
	var cs []attackCase
	for _, nc := range []struct {
		norm robust.Norm
		eps  float64
	}{{robust.LInf, epsInf}, {robust.L2, epsL2}} {
		n, e := nc.norm, nc.eps
		cs = append(cs,
			attackCase{"FGSM/" + n.String(), attack.FGSM{Eps: e, Norm: n}, n, e, true},
			attackCase{"FGSM-margin/" + n.String(), attack.FGSM{Eps: e, Norm: n, Loss: robust.Margin}, n, e, true},
			attackCase{"PGD/" + n.String(), attack.PGD{Eps: e, Norm: n, Steps: 5, Restarts: 2, Seed: 7}, n, e, true},
			attackCase{"PGD-dlr-nostart/" + n.String(), attack.PGD{Eps: e, Norm: n, Steps: 5, NoRandomStart: true, Loss: robust.DLR}, n, e, true},
			attackCase{"PGD-bigstep/" + n.String(), attack.PGD{Eps: e, Norm: n, Steps: 3, Step: 10 * e}, n, e, true},
			attackCase{"PGD-stop/" + n.String(), attack.PGD{Eps: e, Norm: n, Steps: 5, Restarts: 2, Seed: 7, StopOnSuccess: true}, n, e, true},
			attackCase{"PGD-stop-margin/" + n.String(), attack.PGD{Eps: e, Norm: n, Steps: 5, Seed: 7, Loss: robust.Margin, StopOnSuccess: true}, n, e, true},
			attackCase{"APGD-CE/" + n.String(), attack.APGD{Eps: e, Norm: n, Steps: 10, Restarts: 2, Seed: 3}, n, e, true},
			attackCase{"APGD-DLR/" + n.String(), attack.APGD{Eps: e, Norm: n, Steps: 10, Loss: robust.DLR}, n, e, true},
			attackCase{"APGDT/" + n.String(), attack.APGDT{Eps: e, Norm: n, Steps: 5, NumTargets: 2}, n, e, true},
		)
	}
	cs = append(cs,
		attackCase{"Square/linf", attack.Square{Eps: epsInf, MaxQueries: 50, Seed: 9}, robust.LInf, epsInf, false},
		attackCase{"FGSMRS/linf", attack.FGSMRS{Eps: epsInf, Seed: 5}, robust.LInf, epsInf, true})
	return cs
}

// runInvariantSuite checks the output contract of every attack of
// attackCases on model m and the batch x, y. Gradient attacks run only when
// m is a robust.Differentiable, and must fail with robust.ErrNoGradient
// otherwise. It is the one helper a new model's tests need to call.
func runInvariantSuite(t *testing.T, m robust.Classifier, x *tensor.Dense, y []int, epsInf, epsL2 float64) {
	t.Helper()
	_, isGrad := m.(robust.Differentiable)
	for _, c := range attackCases(epsInf, epsL2) {
		t.Run(c.name, func(t *testing.T) {
			if c.gradient && !isGrad {
				_, err := c.atk.Perturb(context.Background(), m, x, y)
				if !errors.Is(err, robust.ErrNoGradient) {
					t.Fatalf("model without gradients: err = %v, want robust.ErrNoGradient", err)
				}
				return
			}
			checkInvariants(t, c, m, x, y)
		})
	}
}

// checkInvariants checks one attack on one batch: the output lies in the
// ball and the bounds, x is untouched, the output is fresh and deterministic,
// concurrent calls agree, a cancelled context stops the attack before and
// during the run, and the targeted variant obeys the same contract.
func checkInvariants(t *testing.T, c attackCase, m robust.Classifier, x *tensor.Dense, y []int) {
	t.Helper()
	ctx := context.Background()
	orig := slices.Clone(x.Data().([]float32))
	run := func(ctx context.Context, m robust.Classifier) (*tensor.Dense, error) {
		return c.atk.Perturb(ctx, m, x, y)
	}
	adv := checkOutput(t, c, m, x, orig, run)
	if tg, ok := c.atk.(attack.Targeted); ok {
		k := m.NumClasses()
		targets := make([]int, len(y))
		for i, l := range y {
			targets[i] = (l + 1 + i%(k-1)) % k
		}
		checkOutput(t, c, m, x, orig, func(ctx context.Context, m robust.Classifier) (*tensor.Dense, error) {
			return tg.PerturbTargeted(ctx, m, x, y, targets)
		})
	}

	// Concurrent calls on one attack value agree with the sequential one.
	var wg sync.WaitGroup
	outs := make([]*tensor.Dense, 4)
	errs := make([]error, len(outs))
	for g := range outs {
		wg.Go(func() { outs[g], errs[g] = run(ctx, m) })
	}
	wg.Wait()
	for g, out := range outs {
		if errs[g] != nil {
			t.Fatalf("concurrent call %d: %v", g, errs[g])
		}
		if !slices.Equal(out.Data().([]float32), adv.Data().([]float32)) {
			t.Errorf("concurrent call %d differs from the sequential result", g)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if out, err := run(cctx, m); !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("cancelled context: out %v, err = %v, want nil and context.Canceled", out != nil, err)
	}
	// Cancel during the run: after the model's first call.
	cctx, cancel = context.WithCancel(ctx)
	defer cancel()
	sp := newSpy(m, func(calls int64) {
		if calls == 1 {
			cancel()
		}
	})
	out, err := run(cctx, sp)
	calls, _ := sp.counts()
	switch {
	case errors.Is(err, context.Canceled) && out == nil:
	case err == nil && calls == 1:
		// A single-call attack (FGSM) finishes before it could notice.
	default:
		t.Errorf("cancelled after the first of %d model calls: err = %v, want context.Canceled", calls, err)
	}
}

// checkOutput runs an attack twice and checks one output against the
// contract; it returns the output.
func checkOutput(t *testing.T, c attackCase, m robust.Classifier, x *tensor.Dense, orig []float32,
	run func(context.Context, robust.Classifier) (*tensor.Dense, error)) *tensor.Dense {
	t.Helper()
	adv, err := run(context.Background(), m)
	if err != nil {
		t.Fatalf("Perturb: %v", err)
	}
	if !slices.Equal(x.Data().([]float32), orig) {
		t.Fatal("Perturb modified x")
	}
	if !adv.Shape().Eq(x.Shape()) {
		t.Fatalf("x_adv shape %v, want %v", adv.Shape(), x.Shape())
	}
	av := adv.Data().([]float32)
	if &av[0] == &x.Data().([]float32)[0] {
		t.Fatal("x_adv shares x's backing array")
	}
	b := m.Bounds()
	for j, v := range av {
		if math.IsNaN(float64(v)) || v < b.Min || v > b.Max {
			t.Fatalf("x_adv[%d] = %v outside bounds [%v, %v]", j, v, b.Min, b.Max)
		}
	}
	dist, err := c.norm.Distances(x, adv)
	if err != nil {
		t.Fatal(err)
	}
	for i, dv := range dist {
		// The final projection makes the float64 distance of the stored
		// float32 values at most Eps exactly, tighter than Eps + 1e-6.
		if dv > c.eps {
			t.Errorf("example %d: %v distance %.9g > eps %.9g", i, c.norm, dv, c.eps)
		}
	}
	again, err := run(context.Background(), m)
	if err != nil {
		t.Fatalf("second Perturb: %v", err)
	}
	if !slices.Equal(again.Data().([]float32), av) {
		t.Error("same seed gave a different x_adv")
	}
	return adv
}

// spy wraps a model, counts its calls and runs a hook after each one. It is
// a robust.Differentiable exactly when the wrapped model is (see newSpy).
type spy struct {
	m     robust.Classifier
	calls atomic.Int64
	grads atomic.Int64
	hook  func(calls int64)
}

type spyGrad struct{ *spy }

func newSpy(m robust.Classifier, hook func(calls int64)) interface {
	robust.Classifier
	counts() (calls, grads int64)
} {
	s := &spy{m: m, hook: hook}
	if _, ok := m.(robust.Differentiable); ok {
		return spyGrad{s}
	}
	return s
}

func (s *spy) counts() (int64, int64) { return s.calls.Load(), s.grads.Load() }

func (s *spy) after() {
	c := s.calls.Add(1)
	if s.hook != nil {
		s.hook(c)
	}
}

func (s *spy) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	defer s.after()
	return s.m.Logits(ctx, x)
}

func (s *spy) NumClasses() int       { return s.m.NumClasses() }
func (s *spy) Bounds() robust.Bounds { return s.m.Bounds() }

func (s spyGrad) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	defer s.after()
	s.grads.Add(1)
	return s.m.(robust.Differentiable).LossGrad(ctx, x, obj)
}

// trainedBlobs returns the trained test model and 100 held-out examples,
// trained once per test binary.
var trainedBlobs = sync.OnceValues(func() (*blobs, error) {
	m, x, y, err := testmodel.Trained(100)
	if err != nil {
		return nil, err
	}
	return &blobs{m, x, y}, nil
})

type blobs struct {
	m *testmodel.MLP
	x *tensor.Dense
	y []int
}

func mustBlobs(t testing.TB) *blobs {
	t.Helper()
	b, err := trainedBlobs()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// accuracy is the fraction of examples of x whose argmax is want[i].
func accuracy(t testing.TB, m robust.Classifier, x *tensor.Dense, want []int) float64 {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := tensors.Argmax(z)
	if err != nil {
		t.Fatal(err)
	}
	hit := 0
	for i, p := range pred {
		if p == want[i] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

// meanLoss is the mean objective value of kind at x.
func meanLoss(t testing.TB, m robust.Classifier, x *tensor.Dense, y []int, kind robust.ObjectiveKind) float64 {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	zs, err := tensors.Float64s(z)
	if err != nil {
		t.Fatal(err)
	}
	n, k := len(y), m.NumClasses()
	loss := make([]float64, n)
	robust.Objective{Kind: kind, Labels: y}.Eval(zs, n, k, loss, nil)
	s := 0.0
	for _, v := range loss {
		s += v
	}
	return s / float64(n)
}
