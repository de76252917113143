package attack_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

func perturb(t *testing.T, a robust.Attack, m robust.Classifier, x *tensor.Dense, y []int) *tensor.Dense {
	t.Helper()
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	return adv
}

func TestCleanAccuracy(t *testing.T) {
	b := mustBlobs(t)
	// The strength tests below read robust accuracy as attack failure rate,
	// which needs a model that is right on the clean batch.
	if acc := accuracy(t, b.m, b.x, b.y); acc < 0.99 {
		t.Fatalf("clean accuracy %.2f, want >= 0.99", acc)
	}
}

func TestPGDStrongerThanFGSM(t *testing.T) {
	b := mustBlobs(t)
	for _, c := range []struct {
		norm robust.Norm
		eps  float64 // a budget where FGSM leaves roughly half the examples
	}{{robust.LInf, 0.1}, {robust.L2, 0.7}} {
		fgsm := perturb(t, attack.FGSM{Eps: c.eps, Norm: c.norm}, b.m, b.x, b.y)
		pgd := perturb(t, attack.PGD{Eps: c.eps, Norm: c.norm}, b.m, b.x, b.y)
		fa, pa := accuracy(t, b.m, fgsm, b.y), accuracy(t, b.m, pgd, b.y)
		fl, pl := meanLoss(t, b.m, fgsm, b.y, robust.CrossEntropy), meanLoss(t, b.m, pgd, b.y, robust.CrossEntropy)
		t.Logf("%v eps %v: robust accuracy FGSM %.2f PGD %.2f; mean CE FGSM %.3f PGD %.3f", c.norm, c.eps, fa, pa, fl, pl)
		if pa >= fa || pl <= fl {
			t.Errorf("%v eps %v: PGD (acc %.2f, loss %.3f) is not stronger than FGSM (acc %.2f, loss %.3f)", c.norm, c.eps, pa, pl, fa, fl)
		}
	}
}

// TestAPGDNoWeakerThanPGD compares APGD with PGD (tuned step, same number of
// iterations, same loss) as an optimiser: it must reach at least the same
// mean objective. Robust accuracy may differ by a few examples either way on
// this nearly linear model, where the loss maximiser and the misclassified
// points need not coincide.
func TestAPGDNoWeakerThanPGD(t *testing.T) {
	b := mustBlobs(t)
	for _, norm := range []robust.Norm{robust.LInf, robust.L2} {
		eps := map[robust.Norm]float64{robust.LInf: 0.1, robust.L2: 0.7}[norm]
		for _, loss := range []robust.ObjectiveKind{robust.CrossEntropy, robust.DLR} {
			p := perturb(t, attack.PGD{Eps: eps, Norm: norm, Steps: 40, Loss: loss}, b.m, b.x, b.y)
			a := perturb(t, attack.APGD{Eps: eps, Norm: norm, Steps: 40, Loss: loss}, b.m, b.x, b.y)
			pa, aa := accuracy(t, b.m, p, b.y), accuracy(t, b.m, a, b.y)
			pl, al := meanLoss(t, b.m, p, b.y, loss), meanLoss(t, b.m, a, b.y, loss)
			t.Logf("%v eps %v %v: PGD-40 acc %.2f loss %.3f, APGD-40 acc %.2f loss %.3f", norm, eps, loss, pa, pl, aa, al)
			if al < pl {
				t.Errorf("%v %v: APGD mean loss %.4f below PGD's %.4f", norm, loss, al, pl)
			}
			// Three examples in a hundred: the argmax noise described above.
			if aa > pa+0.03 {
				t.Errorf("%v %v: APGD robust accuracy %.2f well above PGD's %.2f", norm, loss, aa, pa)
			}
		}
	}
}

func TestLargerEpsStronger(t *testing.T) {
	b := mustBlobs(t)
	prev := 1.0
	for _, eps := range []float64{0.04, 0.08, 0.12, 0.2, 0.3} {
		acc := accuracy(t, b.m, perturb(t, attack.PGD{Eps: eps, Steps: 20}, b.m, b.x, b.y), b.y)
		if acc > prev {
			t.Errorf("eps %v: robust accuracy %.2f rose from %.2f", eps, acc, prev)
		}
		prev = acc
	}
	if prev != 0 {
		t.Errorf("eps 0.3: robust accuracy %.2f, want 0", prev)
	}
}

func TestTargetedSuccess(t *testing.T) {
	b := mustBlobs(t)
	k := b.m.NumClasses()
	targets := make([]int, len(b.y))
	for i, l := range b.y {
		targets[i] = (l + 1 + i%(k-1)) % k
	}
	cases := []struct {
		name string
		a    attack.Targeted
		want float64
	}{
		// Budgets well above the untargeted breaking point (about 0.15 LInf
		// and 1 L2); each attack must then reach nearly every target.
		{"PGD-CE linf", attack.PGD{Eps: 0.3}, 0.9},
		{"PGD-margin linf", attack.PGD{Eps: 0.3, Loss: robust.Margin}, 0.9},
		{"PGD-CE l2", attack.PGD{Eps: 2, Norm: robust.L2}, 0.9},
		{"APGD-DLR linf", attack.APGD{Eps: 0.3, Steps: 40, Loss: robust.DLR}, 0.9},
		{"APGD-CE l2", attack.APGD{Eps: 2, Norm: robust.L2, Steps: 40}, 0.9},
		{"Square linf", attack.Square{Eps: 0.3, MaxQueries: 500}, 0.9},
		// One step toward a target is weak; it must still get some.
		{"FGSM linf", attack.FGSM{Eps: 0.3}, 0.2},
	}
	for _, c := range cases {
		adv, err := c.a.PerturbTargeted(context.Background(), b.m, b.x, b.y, targets)
		if err != nil {
			t.Fatal(err)
		}
		hit := accuracy(t, b.m, adv, targets)
		t.Logf("%s: %.2f reach the target", c.name, hit)
		if hit < c.want {
			t.Errorf("%s: %.2f of examples reach their target, want >= %.2f", c.name, hit, c.want)
		}
	}
}

func TestSquareBreaksBlackBox(t *testing.T) {
	b := mustBlobs(t)
	m := testmodel.NoGrad{Model: b.m}
	adv := perturb(t, attack.Square{Eps: 0.15, MaxQueries: 1000}, m, b.x, b.y)
	// White-box PGD leaves about 1% at this budget; a black-box attack with
	// a thousand queries must come close.
	if acc := accuracy(t, m, adv, b.y); acc > 0.1 {
		t.Errorf("robust accuracy under Square %.2f, want <= 0.1", acc)
	}
	t.Logf("APGDT: %.2f", accuracy(t, m, perturb(t, attack.APGDT{Eps: 0.1, Steps: 20}, b.m, b.x, b.y), b.y))
}

// TestStopOnSuccessKeepsSuccesses checks that freezing examples at their
// first successful iterate breaks every example the plain run breaks: until
// an example first succeeds, both runs move it identically, and after that
// the frozen run keeps it broken. Big steps make iterates oscillate across
// the boundary, so freezing must also gain examples.
func TestStopOnSuccessKeepsSuccesses(t *testing.T) {
	m, x, y := mnistBatch(t, 100)
	for _, c := range []struct {
		name string
		a    attack.PGD
	}{
		{"CE", attack.PGD{Eps: 0.1, Steps: 10, Step: 0.1, Seed: 4}},
		{"margin", attack.PGD{Eps: 0.1, Steps: 10, Step: 0.1, Seed: 4, Loss: robust.Margin}},
		{"L2", attack.PGD{Eps: 1.5, Norm: robust.L2, Steps: 10, Step: 5, Seed: 4}},
	} {
		stop := c.a
		stop.StopOnSuccess = true
		_, okPlain := perExample(t, m, perturb(t, c.a, m, x, y), y)
		_, okStop := perExample(t, m, perturb(t, stop, m, x, y), y)
		gained := 0
		for i := range y {
			if okPlain[i] && !okStop[i] {
				t.Errorf("%s: example %d broken by the plain run but not with StopOnSuccess", c.name, i)
			}
			if okStop[i] && !okPlain[i] {
				gained++
			}
		}
		t.Logf("%s: StopOnSuccess broke %d more examples", c.name, gained)
		if gained == 0 {
			t.Errorf("%s: StopOnSuccess gained nothing; the test no longer exercises it", c.name)
		}
	}
}

// TestRestartsKeepWorstCase checks that a run with more restarts, whose first
// restart is the whole of the one-restart run (same seed), keeps every
// example the first run broke exactly as it was, and only improves the rest.
func TestRestartsKeepWorstCase(t *testing.T) {
	b := mustBlobs(t)
	d := b.x.Shape().TotalSize() / len(b.y)
	for _, c := range []struct {
		name     string
		one, few robust.Attack
	}{
		// Few steps at a middling budget, so restarts have work to do.
		{"PGD", attack.PGD{Eps: 0.1, Steps: 2, Seed: 5}, attack.PGD{Eps: 0.1, Steps: 2, Restarts: 6, Seed: 5}},
		{"APGD", attack.APGD{Eps: 0.1, Steps: 3, Seed: 5}, attack.APGD{Eps: 0.1, Steps: 3, Restarts: 6, Seed: 5}},
	} {
		one, few := perturb(t, c.one, b.m, b.x, b.y), perturb(t, c.few, b.m, b.x, b.y)
		lossOne, okOne := perExample(t, b.m, one, b.y)
		lossFew, okFew := perExample(t, b.m, few, b.y)
		o, f := one.Data().([]float32), few.Data().([]float32)
		gained := 0
		for i := range b.y {
			switch {
			case okOne[i]:
				if !slices.Equal(o[i*d:(i+1)*d], f[i*d:(i+1)*d]) {
					t.Errorf("%s: example %d was broken by the first restart but changed", c.name, i)
				}
			case okFew[i]:
				gained++
			// 1e-5 absorbs float32 rounding between the loss a run
			// recorded and the one recomputed here.
			case lossFew[i] < lossOne[i]-1e-5:
				t.Errorf("%s: example %d: loss fell from %v to %v with more restarts", c.name, i, lossOne[i], lossFew[i])
			}
		}
		t.Logf("%s: restarts broke %d more examples", c.name, gained)
		if gained == 0 {
			t.Errorf("%s: restarts broke nothing new; the test no longer exercises them", c.name)
		}
	}
}

// perExample returns each example's cross-entropy at x and whether its
// label lost the argmax.
func perExample(t *testing.T, m robust.Classifier, x *tensor.Dense, y []int) ([]float64, []bool) {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	zs, _ := tensors.Float64s(z)
	pred, _ := tensors.Argmax(z)
	k := m.NumClasses()
	loss := make([]float64, len(y))
	robust.Objective{Kind: robust.CrossEntropy, Labels: y}.Eval(zs, len(y), k, loss, nil)
	ok := make([]bool, len(y))
	for i := range ok {
		ok[i] = pred[i] != y[i]
	}
	return loss, ok
}

func TestZeroGradient(t *testing.T) {
	s := testmodel.Shape{C: 1, H: 4, W: 4}
	m, err := testmodel.NewConstant(s, []float64{3, 1, 2, 0})
	if err != nil {
		t.Fatal(err)
	}
	x, y := randomBatch(3, 6, s, robust.UnitBounds, 4)
	xs := x.Data().([]float32)
	for _, c := range []struct {
		name    string
		a       robust.Attack
		norm    robust.Norm
		eps     float64
		stayPut bool // no random start, so a zero gradient must not move x
	}{
		{"FGSM l2", attack.FGSM{Eps: 0.5, Norm: robust.L2}, robust.L2, 0.5, true},
		{"FGSM linf", attack.FGSM{Eps: 0.1}, robust.LInf, 0.1, true},
		{"PGD l2 no start", attack.PGD{Eps: 0.5, Norm: robust.L2, Steps: 3, NoRandomStart: true}, robust.L2, 0.5, true},
		{"PGD l2", attack.PGD{Eps: 0.5, Norm: robust.L2, Steps: 3, Restarts: 2}, robust.L2, 0.5, false},
		{"APGD l2", attack.APGD{Eps: 0.5, Norm: robust.L2, Steps: 5}, robust.L2, 0.5, false},
		{"APGD-DLR l2", attack.APGD{Eps: 0.5, Norm: robust.L2, Steps: 5, Loss: robust.DLR}, robust.L2, 0.5, false},
		{"APGDT l2", attack.APGDT{Eps: 0.5, Norm: robust.L2, Steps: 5}, robust.L2, 0.5, false},
	} {
		adv := perturb(t, c.a, m, x, y)
		av := adv.Data().([]float32)
		for j, v := range av {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: x_adv[%d] = %v", c.name, j, v)
			}
		}
		if c.stayPut && !slices.Equal(av, xs) {
			t.Errorf("%s: zero gradient moved x", c.name)
		}
		dist, err := c.norm.Distances(x, adv)
		if err != nil {
			t.Fatal(err)
		}
		if mx := slices.Max(dist); mx > c.eps {
			t.Errorf("%s: distance %v > eps %v", c.name, mx, c.eps)
		}
	}
}

// TestCost checks the model-call counts documented for each attack.
func TestCost(t *testing.T) {
	b := mustBlobs(t)
	for _, c := range []struct {
		name          string
		a             robust.Attack
		calls, grads  int64
		callsAtMostOK bool // Square may stop early
	}{
		{"FGSM", attack.FGSM{Eps: 0.1}, 1, 1, false},
		{"PGD", attack.PGD{Eps: 0.01, Steps: 5}, 6, 5, false},
		{"APGD-CE", attack.APGD{Eps: 0.01, Steps: 10}, 22, 11, false},
		{"APGD-DLR", attack.APGD{Eps: 0.01, Steps: 10, Loss: robust.DLR}, 11, 11, false},
		{"Square", attack.Square{Eps: 0.3, MaxQueries: 30}, 30, 0, true},
	} {
		sp := newSpy(b.m, nil)
		perturb(t, c.a, sp, b.x, b.y)
		calls, grads := sp.counts()
		if grads != c.grads || calls > c.calls || (!c.callsAtMostOK && calls != c.calls) {
			t.Errorf("%s: %d model calls (%d LossGrad), want %d (%d LossGrad)", c.name, calls, grads, c.calls, c.grads)
		}
	}
}

// TestWithSeed checks that reseeding copies the attack, that the copy
// behaves like an attack built with that seed, and that the seed matters.
func TestWithSeed(t *testing.T) {
	b := mustBlobs(t)
	x, y := head(b.x, b.y, 16)
	for _, a := range []robust.Reseedable{
		attack.PGD{Eps: 0.1, Steps: 3, Seed: 1},
		attack.APGD{Eps: 0.1, Steps: 3, Seed: 1},
		attack.APGDT{Eps: 0.05, Steps: 3, NumTargets: 1, Seed: 1},
		attack.Square{Eps: 0.05, MaxQueries: 5, Seed: 1},
	} {
		orig := a.(robust.Attack)
		re := a.WithSeed(2)
		if _, ok := re.(robust.Reseedable); !ok {
			t.Fatalf("%T.WithSeed returned a %T", a, re)
		}
		first := perturb(t, orig, b.m, x, y).Data().([]float32)
		second := perturb(t, re, b.m, x, y).Data().([]float32)
		if again := perturb(t, orig, b.m, x, y).Data().([]float32); !slices.Equal(first, again) {
			t.Errorf("%T: WithSeed changed the receiver", a)
		}
		// Small budgets leave examples unbroken, so every random draw shows.
		if slices.Equal(first, second) {
			t.Errorf("%T: seeds 1 and 2 gave the same x_adv", a)
		}
		if same := perturb(t, a.WithSeed(1), b.m, x, y).Data().([]float32); !slices.Equal(first, same) {
			t.Errorf("%T: WithSeed(1) differs from Seed: 1", a)
		}
	}
}
