package attack_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// objectiveValues is obj at x, per example.
func objectiveValues(t *testing.T, m robust.Classifier, x *tensor.Dense, obj robust.Objective) []float64 {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	zs, err := tensors.Float64s(z)
	if err != nil {
		t.Fatal(err)
	}
	n, k := z.Shape()[0], m.NumClasses()
	loss := make([]float64, n)
	if err := obj.Eval(zs, n, k, loss, nil); err != nil {
		t.Fatal(err)
	}
	return loss
}

// TestAscendMatchesPerturb checks that Ascend on the cross-entropy of the
// labels is Perturb: the same iteration from the same random start.
func TestAscendMatchesPerturb(t *testing.T) {
	b := mustBlobs(t)
	ctx := context.Background()
	a := attack.PGD{Eps: 0.2, Steps: 5, Seed: 3}
	want, err := a.Perturb(ctx, b.m, b.x, b.y)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Ascend(ctx, b.m, b.x, robust.Objective{Kind: robust.CrossEntropy, Labels: b.y})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Data().([]float32), want.Data().([]float32)) {
		t.Error("Ascend on cross-entropy differs from Perturb")
	}
}

// TestAscendKL runs the TRADES inner maximisation: PGD on the KL divergence
// from the clean probabilities, from a Gaussian start.
func TestAscendKL(t *testing.T) {
	b := mustBlobs(t)
	ctx := context.Background()
	const eps = 0.2
	z, err := b.m.Logits(ctx, b.x)
	if err != nil {
		t.Fatal(err)
	}
	zs, _ := tensors.Float64s(z)
	n, k := len(b.y), b.m.NumClasses()
	obj := robust.Objective{Kind: robust.KL, Reference: softmax.Rows(zs, n, k)}
	orig := slices.Clone(b.x.Data().([]float32))

	a := attack.PGD{Eps: eps, Steps: 10, GaussianStart: 0.001, Seed: 5}
	adv, err := a.Ascend(ctx, b.m, b.x, obj)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.x.Data().([]float32), orig) {
		t.Fatal("Ascend modified x")
	}
	d, err := robust.LInf.Distances(b.x, adv)
	if err != nil {
		t.Fatal(err)
	}
	bd := b.m.Bounds()
	for i, v := range d {
		if v > eps {
			t.Errorf("example %d at LInf distance %v > eps %v", i, v, eps)
		}
	}
	for j, v := range adv.Data().([]float32) {
		if v < bd.Min || v > bd.Max {
			t.Fatalf("value %d = %v outside the bounds %v", j, v, bd)
		}
	}
	// At x the KL is 0 (up to rounding); ascending it must raise it on
	// average well above that.
	one := objectiveValues(t, b.m, adv, obj)
	mean := 0.0
	for _, v := range one {
		mean += v / float64(n)
	}
	if mean < 1 { // 1 nat: far above rounding; eps 0.2 reaches about 5 on the blobs
		t.Errorf("mean KL after Ascend %v, want > 1", mean)
	}
	again, err := a.Ascend(ctx, b.m, b.x, obj)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Data().([]float32), adv.Data().([]float32)) {
		t.Error("Ascend is not deterministic for a seed")
	}

	// A second restart can only raise each example's objective: its first
	// run is the single run above (same seed), and each example keeps its
	// best run.
	a.Restarts = 2
	two, err := a.Ascend(ctx, b.m, b.x, obj)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range objectiveValues(t, b.m, two, obj) {
		if v < one[i] {
			t.Errorf("example %d: KL %v with 2 restarts < %v with 1", i, v, one[i])
		}
	}
}

func TestAscendErrors(t *testing.T) {
	b := mustBlobs(t)
	ctx := context.Background()
	n, k := len(b.y), b.m.NumClasses()
	uniform := make([]float64, n*k)
	for j := range uniform {
		uniform[j] = 1 / float64(k)
	}
	kl := robust.Objective{Kind: robust.KL, Reference: uniform}
	for _, c := range []struct {
		name string
		a    attack.PGD
		m    robust.Differentiable
		obj  robust.Objective
		want error
	}{
		{"StopOnSuccess", attack.PGD{Eps: 0.1, StopOnSuccess: true}, b.m, kl, robust.ErrConfig},
		{"bad attack", attack.PGD{Eps: -1}, b.m, kl, robust.ErrConfig},
		{"nil model", attack.PGD{Eps: 0.1}, nil, kl, robust.ErrConfig},
		{"short reference", attack.PGD{Eps: 0.1}, b.m, robust.Objective{Kind: robust.KL, Reference: uniform[:k]}, robust.ErrShape},
		{"missing labels", attack.PGD{Eps: 0.1}, b.m, robust.Objective{Kind: robust.CrossEntropy}, robust.ErrShape},
	} {
		out, err := c.a.Ascend(ctx, c.m, b.x, c.obj)
		if !errors.Is(err, c.want) || out != nil {
			t.Errorf("%s: Ascend = %v, %v; want an error wrapping %v", c.name, out, err, c.want)
		}
	}
}
