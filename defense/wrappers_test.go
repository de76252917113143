package defense

import (
	"context"
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

func newMLP(t testing.TB, hidden int, seed uint64) *testmodel.MLP {
	t.Helper()
	m, err := testmodel.New(testmodel.Config{Shape: testmodel.Shape{C: 1, H: 4, W: 4}, Hidden: hidden, Classes: 5, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkGradient compares LossGrad with central finite differences of its
// own losses at a few coordinates. Inputs and losses are float32, so the
// step is 1e-2 and the tolerance 2e-3 + 2% (smooth models only).
func checkGradient(t *testing.T, name string, m robust.Differentiable, x *tensor.Dense, obj robust.Objective) {
	t.Helper()
	ctx := context.Background()
	_, g, err := m.LossGrad(ctx, x, obj)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	gd := data32(t, g)
	const h = 1e-2
	sum := func(v *tensor.Dense) float64 {
		l, _, err := m.LossGrad(ctx, v, obj)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := 0.0
		for _, f := range l {
			s += float64(f)
		}
		return s
	}
	for _, j := range []int{0, 5, 17, 30, 47} {
		xp, xm := clone(x), clone(x)
		data32(t, xp)[j] += h
		data32(t, xm)[j] -= h
		fd := (sum(xp) - sum(xm)) / (2 * h)
		if math.Abs(fd-float64(gd[j])) > 2e-3+0.02*math.Abs(fd) {
			t.Errorf("%s: d/dx[%d] = %v, finite differences %v", name, j, gd[j], fd)
		}
	}
}

// interior returns n random 1x4x4 images in [0.2, 0.8], so that finite
// differences stay in bounds.
func interior(n int) *tensor.Dense {
	return uniformImages(3, n, 1, 4, 4, robust.Bounds{Min: 0.2, Max: 0.8})
}

func TestLogitsVJP(t *testing.T) {
	m, x, y := blobs(t, 10)
	k := m.NumClasses()
	z, _ := m.Logits(context.Background(), x)
	zd, _ := tensors.Float64s(z)
	g := make([]float64, len(zd))
	for i := range y {
		softmax.Accumulate(zd[i*k:(i+1)*k], g[i*k:(i+1)*k])
		g[i*k+y[i]]--
	}
	got, err := logitsVJP(context.Background(), m, x, g, k)
	if err != nil {
		t.Fatal(err)
	}
	_, want := lossGrad(t, m, x, robust.Objective{Kind: robust.CrossEntropy, Labels: y})
	for j := range want {
		if math.Abs(got[j]-float64(want[j])) > 1e-6 {
			t.Fatalf("J^T (p - e_y) [%d] = %v, cross-entropy gradient %v", j, got[j], want[j])
		}
	}
}

func TestEnsemble(t *testing.T) {
	ctx := context.Background()
	a, b, c := newMLP(t, 0, 1), newMLP(t, 0, 2), newMLP(t, 0, 3)
	x := interior(6)
	y := []int{0, 1, 2, 3, 4, 0}
	probs, err := Ensemble(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := EnsembleLogits(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	// Logits: log of the mean probabilities, and the mean logits.
	zp, _ := probs.Logits(ctx, x)
	zl, _ := logits.Logits(ctx, x)
	k := 5
	for i := 0; i < 6; i++ {
		mean := make([]float64, k)
		meanZ := make([]float64, k)
		for _, m := range []robust.Classifier{a, b, c} {
			z, _ := m.Logits(ctx, rows(x, i, i+1))
			zd, _ := tensors.Float64s(z)
			softmax.Accumulate(zd, mean)
			for j := range zd {
				meanZ[j] += zd[j] / 3
			}
		}
		for j := 0; j < k; j++ {
			if p := math.Exp(float64(data32(t, zp)[i*k+j])); math.Abs(p-mean[j]/3) > 1e-6 {
				t.Errorf("Ensemble probability [%d][%d] = %v, want %v", i, j, p, mean[j]/3)
			}
			if math.Abs(float64(data32(t, zl)[i*k+j])-meanZ[j]) > 1e-5 {
				t.Errorf("EnsembleLogits [%d][%d] = %v, want %v", i, j, data32(t, zl)[i*k+j], meanZ[j])
			}
		}
	}
	ref := make([]float64, 6*k)
	for i := range ref {
		ref[i] = 0.2
	}
	objs := []robust.Objective{
		{Kind: robust.CrossEntropy, Labels: y},
		{Kind: robust.TargetedCrossEntropy, Labels: y, Targets: []int{1, 2, 3, 4, 0, 1}},
		{Kind: robust.KL, Reference: ref},
	}
	for _, obj := range objs {
		checkGradient(t, "Ensemble "+obj.Kind.String(), probs, x, obj)
		checkGradient(t, "EnsembleLogits "+obj.Kind.String(), logits, x, obj)
	}

	if _, err := Ensemble(); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("empty ensemble: %v", err)
	}
	if _, err := Ensemble(a, nil); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("nil member: %v", err)
	}
	six, _ := testmodel.New(testmodel.Config{Shape: testmodel.Shape{C: 1, H: 4, W: 4}, Classes: 6})
	if _, err := Ensemble(a, six); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("members with different class counts: %v", err)
	}
	nog, _ := Ensemble(a, testmodel.NoGrad{Model: b})
	if _, _, err := nog.LossGrad(ctx, x, objs[0]); !errors.Is(err, robust.ErrNoGradient) {
		t.Errorf("member without gradients: %v", err)
	}
}

func TestReject(t *testing.T) {
	ctx := context.Background()
	m := newMLP(t, 0, 4)
	x := interior(40)
	k := m.NumClasses()
	z, _ := m.Logits(ctx, x)
	zd, _ := tensors.Float64s(z)
	// A threshold at the median top probability makes about half abstain.
	tops := make([]float64, 40)
	for i := range tops {
		p := make([]float64, k)
		softmax.Accumulate(zd[i*k:(i+1)*k], p)
		for _, v := range p {
			tops[i] = math.Max(tops[i], v)
		}
	}
	thr := 0.5 * (tops[0] + tops[1])
	r, err := Reject(m, thr)
	if err != nil {
		t.Fatal(err)
	}
	if r.NumClasses() != k+1 {
		t.Fatalf("NumClasses = %d, want %d", r.NumClasses(), k+1)
	}
	pred, err := r.Predict(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := r.Logits(ctx, x)
	arg, _ := tensors.Argmax(zr)
	base, _ := tensors.Argmax(z)
	abst := 0
	for i, p := range pred {
		want := base[i]
		if tops[i] < thr {
			want = Abstain
			abst++
		}
		if p != want {
			t.Errorf("example %d: Predict %d, want %d (top probability %v, threshold %v)", i, p, want, tops[i], thr)
		}
		if (p == Abstain && arg[i] != k) || (p != Abstain && arg[i] != p) {
			t.Errorf("example %d: argmax of Logits %d, Predict %d", i, arg[i], p)
		}
	}
	if abst == 0 || abst == 40 {
		t.Fatalf("%d of 40 abstained; the test needs both outcomes", abst)
	}
	// Score: abstentions are reported and not correct.
	y := append([]int(nil), base...)
	y[0] = (y[0] + 1) % k
	tally, err := r.Score(ctx, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if tally.Abstained != abst || tally.Total() != 40 || tally.Accuracy() != float64(tally.Correct)/40 {
		t.Errorf("tally %v, want %d abstentions of 40", tally, abst)
	}
	if got := tally.Correct + tally.Wrong; got != 40-abst {
		t.Errorf("answered %d, want %d", got, 40-abst)
	}
	// Evaluators that know nothing of rejection count abstentions as wrong.
	if acc := accuracy(t, r, x, y); math.Abs(acc-tally.Accuracy()) > 1e-12 {
		t.Errorf("argmax accuracy %v, Score accuracy %v", acc, tally.Accuracy())
	}
	xs := interior(6)
	checkGradient(t, "Reject cross-entropy", r, xs, robust.Objective{Kind: robust.CrossEntropy, Labels: []int{0, 1, 2, 3, 4, 5}})
	checkGradient(t, "Reject targeted", r, xs, robust.Objective{Kind: robust.TargetedCrossEntropy, Labels: []int{0, 1, 2, 3, 4, 0}, Targets: []int{5, 5, 0, 1, 2, 3}})

	for _, bad := range []float64{0, 0.2, 1.01, math.NaN(), -1} {
		if _, err := Reject(m, bad); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("threshold %v: err = %v", bad, err)
		}
	}
	if _, err := r.Score(ctx, x, y[:3]); !errors.Is(err, robust.ErrLabel) {
		t.Errorf("short labels: %v", err)
	}
	if (Tally{}).Accuracy() != 0 || (Tally{Abstained: 2}).SelectiveAccuracy() != 0 {
		t.Error("empty ratios are not 0")
	}
}

func TestHarden(t *testing.T) {
	ctx := context.Background()
	m := newMLP(t, 8, 5)
	x := interior(30)
	k := m.NumClasses()
	z, _ := m.Logits(ctx, x)
	base, _ := tensors.Argmax(z)
	zd, _ := tensors.Float64s(z)
	for _, tc := range []struct {
		name  string
		h     Hardening
		check func(i int, p, q []float64) bool
	}{
		{"labels", Hardening{LabelsOnly: true}, func(i int, p, q []float64) bool {
			for j, v := range q {
				if (j == base[i]) != (v == 1) || (v != 0 && v != 1) {
					return false
				}
			}
			return true
		}},
		{"top 2", Hardening{TopK: 2}, func(i int, p, q []float64) bool {
			kept := 0
			for j, v := range q {
				if v != 0 {
					kept++
					if math.Abs(v-p[j]) > 1e-6 {
						return false
					}
				}
			}
			return kept == 2 && q[base[i]] != 0
		}},
		{"1 decimal", Hardening{Decimals: 1}, func(i int, p, q []float64) bool {
			for j, v := range q {
				if math.Abs(v-math.RoundToEven(p[j]*10)/10) > 1e-6 {
					return false
				}
			}
			return true
		}},
	} {
		h, err := Harden(m, tc.h)
		if err != nil {
			t.Fatal(err)
		}
		q, err := h.Probabilities(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		qd, _ := tensors.Float64s(q)
		for i := 0; i < 30; i++ {
			p := make([]float64, k)
			softmax.Accumulate(zd[i*k:(i+1)*k], p)
			if !tc.check(i, p, qd[i*k:(i+1)*k]) {
				t.Errorf("%s: example %d: probabilities %v revealed as %v", tc.name, i, p, qd[i*k:(i+1)*k])
			}
		}
		zh, err := h.Logits(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := tensors.Argmax(zh)
		for i := range got {
			if got[i] != base[i] {
				t.Errorf("%s: hardening changed example %d's prediction", tc.name, i)
			}
		}
		// No gradients: gradient attacks refuse a hardened model.
		if _, err := (attack.FGSM{Eps: 0.1}).Perturb(ctx, h, x, base); !errors.Is(err, robust.ErrNoGradient) {
			t.Errorf("%s: FGSM on a hardened model: err = %v", tc.name, err)
		}
	}
	for _, bad := range []Hardening{{}, {LabelsOnly: true, TopK: 1}, {TopK: 5}, {TopK: -1}, {Decimals: 11}, {Decimals: -1}} {
		if _, err := Harden(m, bad); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}
}

// hidden is a Differentiable that hides its model's LogitsVJP, so the
// wrappers fall back to the LossGrad construction.
type hidden struct{ robust.Differentiable }

// TestWrappersUseLogitsVJP checks that Ensemble and Reject give the same
// loss and gradient whether the model computes vector-Jacobian products
// directly (nn.Model's LogitsVJP) or through LossGrad on twice the batch.
func TestWrappersUseLogitsVJP(t *testing.T) {
	m := standardModel(t)
	x, y := mnistImages(t, 20)
	ens, err := Ensemble(m, m)
	if err != nil {
		t.Fatal(err)
	}
	ensHidden, err := Ensemble(hidden{m}, hidden{m})
	if err != nil {
		t.Fatal(err)
	}
	rej, err := Reject(m, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	rejHidden, err := Reject(hidden{m}, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	for _, tc := range []struct {
		name         string
		fast, direct robust.Differentiable
	}{{"Ensemble", ens, ensHidden}, {"Reject", rej, rejHidden}} {
		lf, gf := lossGrad(t, tc.fast, x, obj)
		ld, gd := lossGrad(t, tc.direct, x, obj)
		for i := range lf {
			if math.Abs(float64(lf[i]-ld[i])) > 1e-5*math.Max(1, math.Abs(float64(ld[i]))) {
				t.Fatalf("%s: loss[%d] = %v with LogitsVJP, %v without", tc.name, i, lf[i], ld[i])
			}
		}
		scale := 0.0
		for _, v := range gd {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range gf {
			if math.Abs(float64(gf[j]-gd[j])) > 1e-4*scale {
				t.Fatalf("%s: gradient[%d] = %v with LogitsVJP, %v without (largest %v)", tc.name, j, gf[j], gd[j], scale)
			}
		}
	}
}
