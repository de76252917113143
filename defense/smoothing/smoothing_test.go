package smoothing

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/train"
)

// halfSpace is a base classifier with known class probabilities under
// Gaussian noise: class 0 where <w, x> < t, class 1 elsewhere. For a unit
// w, P(f(x + e) = 0) = Phi((t - <w, x>) / sigma), and the smoothed
// classifier's exact L2 robustness radius is t - <w, x>, which is also
// Cohen et al.'s certified radius when pA is known exactly.
type halfSpace struct {
	w []float64
	t float64
}

func (h halfSpace) NumClasses() int { return 2 }

// Bounds are wide enough that clipping the noise never matters.
func (h halfSpace) Bounds() robust.Bounds { return robust.Bounds{Min: -100, Max: 100} }

func (h halfSpace) Logits(_ context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, d, err := tensors.Images(x)
	if err != nil {
		return nil, err
	}
	size := len(d) / n
	out := make([]float32, 2*n)
	for i := 0; i < n; i++ {
		s := 0.0
		for j, w := range h.w {
			s += w * float64(d[i*size+j])
		}
		out[2*i], out[2*i+1] = float32(h.t-s), float32(s-h.t)
	}
	return tensor.New(tensor.WithShape(n, 2), tensor.WithBacking(out)), nil
}

// image returns one 1 x 2 x 2 image.
func image(v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)/4, 1, 2, 2), tensor.WithBacking(v))
}

// binomialTail is P(X >= k) for X ~ Binomial(n, p), summed directly in
// log space: an independent check of the Beta quantile.
func binomialTail(k, n int, p float64) float64 {
	s := 0.0
	for j := k; j <= n; j++ {
		lg1, _ := math.Lgamma(float64(n + 1))
		lg2, _ := math.Lgamma(float64(j + 1))
		lg3, _ := math.Lgamma(float64(n - j + 1))
		s += math.Exp(lg1 - lg2 - lg3 + float64(j)*math.Log(p) + float64(n-j)*math.Log1p(-p))
	}
	return s
}

func lcb(t *testing.T, k, n int, alpha float64) float64 {
	t.Helper()
	p, err := LowerConfidenceBound(k, n, alpha)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLowerConfidenceBoundRejects: bad arguments used to panic; they are
// errors wrapping robust.ErrConfig that name the argument.
func TestLowerConfidenceBoundRejects(t *testing.T) {
	for _, tc := range []struct {
		k, n  int
		alpha float64
		msg   string
	}{
		{0, 0, 0.05, "n = 0, want >= 1"},
		{11, 10, 0.05, "k = 11, want [0, n] = [0, 10]"},
		{-1, 10, 0.05, "k = -1"},
		{5, 10, 0, "alpha = 0, want a value in (0, 1)"},
		{5, 10, 1, "alpha = 1"},
		{5, 10, math.NaN(), "alpha = NaN"},
	} {
		p, err := LowerConfidenceBound(tc.k, tc.n, tc.alpha)
		if !errors.Is(err, robust.ErrConfig) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("LowerConfidenceBound(%d, %d, %v) = %v, %v; want an error wrapping robust.ErrConfig saying %q", tc.k, tc.n, tc.alpha, p, err, tc.msg)
		}
	}
}

// TestLowerConfidenceBound checks the Clopper-Pearson bound against closed
// forms (k = n: alpha^(1/n); k = 0: 0) and, elsewhere, against its
// definition: the p at which P(X >= k) = alpha.
func TestLowerConfidenceBound(t *testing.T) {
	for _, tc := range []struct {
		k, n  int
		alpha float64
	}{
		{1, 1, 0.001}, {10, 10, 0.05}, {1000, 1000, 0.001}, {100000, 100000, 0.001},
	} {
		want := math.Pow(tc.alpha, 1/float64(tc.n))
		if got := lcb(t, tc.k, tc.n, tc.alpha); math.Abs(got-want) > 1e-9 {
			t.Errorf("LCB(%d, %d, %v) = %v, want alpha^(1/n) = %v", tc.k, tc.n, tc.alpha, got, want)
		}
	}
	if got := lcb(t, 0, 50, 0.01); got != 0 {
		t.Errorf("LCB(0, 50) = %v, want 0", got)
	}
	for _, tc := range []struct {
		k, n  int
		alpha float64
	}{
		{7, 10, 0.05}, {990, 1000, 0.001}, {600, 1000, 0.001}, {9000, 10000, 0.001}, {51, 100, 0.1},
	} {
		p := lcb(t, tc.k, tc.n, tc.alpha)
		if tail := binomialTail(tc.k, tc.n, p); math.Abs(tail-tc.alpha) > 1e-6*tc.alpha+1e-12 {
			t.Errorf("LCB(%d, %d, %v) = %v, where P(X >= k) = %v, want alpha", tc.k, tc.n, tc.alpha, p, tail)
		}
	}
	for _, tc := range []struct{ k, n int }{{10, 10}, {6, 10}, {60, 100}, {520, 1000}} {
		want := math.Min(1, 2*binomialTail(tc.k, tc.n, 0.5))
		if got := binomialPValue(tc.k, tc.n); math.Abs(got-want) > 1e-9 {
			t.Errorf("p-value(%d, %d) = %v, want %v", tc.k, tc.n, got, want)
		}
	}
	if binomialPValue(5, 10) != 1 {
		t.Error("p-value of a tie is not 1")
	}
}

// TestCertifyHalfSpace checks Certify against the closed form of a linear
// base classifier: pA = Phi(margin/sigma) and a true radius equal to the
// margin. The certified radius must lie below the true one (it does with
// probability 1 - alpha; the seed is fixed) and within the sampling slack
// of n = 100,000: at pA = 0.885 the bound sits about 3.1 standard errors
// (0.0031) below pA, which costs 0.25 * 0.0031 / phi(1.2) = 0.004 in
// radius, plus 0.0013 for one standard error of the estimate.
func TestCertifyHalfSpace(t *testing.T) {
	const sigma, n, alpha = 0.25, 100000, 0.001
	h := halfSpace{w: []float64{0.5, 0.5, 0.5, 0.5}, t: 0.3} // unit w
	s, err := New(h, sigma, &Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Margins 0.3, 0.6 and -0.2 (class 1 with margin 0.2).
	x := image(0, 0, 0, 0, -0.15, -0.15, -0.15, -0.15, 0.25, 0.25, 0.25, 0.25)
	certs, err := s.Certify(context.Background(), x, 100, n, alpha)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		class  int
		margin float64
	}{{0, 0.3}, {0, 0.6}, {1, 0.2}} {
		c := certs[i]
		pA := distuv.UnitNormal.CDF(tc.margin / sigma)
		if c.Class != tc.class {
			t.Fatalf("example %d: class %d, want %d", i, c.Class, tc.class)
		}
		if est := float64(c.Count) / n; math.Abs(est-pA) > 4*math.Sqrt(pA*(1-pA)/n) {
			t.Errorf("example %d: estimated pA %v, true %v", i, est, pA)
		}
		if want := sigma * distuv.UnitNormal.Quantile(lcb(t, c.Count, n, alpha)); c.Radius != want || c.PLower > pA {
			t.Errorf("example %d: radius %v from pLower %v, want %v from a bound below %v", i, c.Radius, c.PLower, want, pA)
		}
		slack := sigma * (3.3*math.Sqrt(pA*(1-pA)/n) + 2*math.Sqrt(pA*(1-pA)/n)) / distuv.UnitNormal.Prob(tc.margin/sigma)
		if c.Radius > tc.margin || c.Radius < tc.margin-slack {
			t.Errorf("example %d: certified radius %v, want in [%v, %v]", i, c.Radius, tc.margin-slack, tc.margin)
		}
		t.Logf("margin %.2f: pA %.4f, count %d/%d, pLower %.4f, radius %.4f", tc.margin, pA, c.Count, n, c.PLower, c.Radius)
	}
}

// TestAbstain checks that an example on the boundary (pA = 1/2) is neither
// certified nor predicted.
func TestAbstain(t *testing.T) {
	h := halfSpace{w: []float64{1, 0, 0, 0}, t: 0}
	s, err := New(h, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := image(0, 0, 0, 0)
	certs, err := s.Certify(context.Background(), x, 100, 2000, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	if certs[0].Class != Abstain || certs[0].Radius != 0 {
		t.Errorf("certificate %+v, want an abstention", certs[0])
	}
	pred, err := s.Predict(context.Background(), x, 2000, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	if pred[0] != Abstain {
		t.Errorf("Predict %d, want Abstain", pred[0])
	}
	far := image(5, 0, 0, 0)
	if pred, _ = s.Predict(context.Background(), far, 100, 0.001); pred[0] != 1 {
		t.Errorf("Predict far from the boundary: %d, want 1", pred[0])
	}
}

// TestCertifyDeterministic checks that results depend on the seed and the
// input only: not on the batch size, the batch's other examples or calls.
func TestCertifyDeterministic(t *testing.T) {
	ctx := context.Background()
	h := halfSpace{w: []float64{0.5, 0.5, 0.5, 0.5}, t: 0.1}
	x := image(0, 0, 0, 0, 0.1, -0.1, 0, 0)
	run := func(batch int, seed uint64, x *tensor.Dense) []Certificate {
		s, err := New(h, 0.25, &Options{Batch: batch, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.Certify(ctx, x, 50, 3000, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := run(1000, 1, x), run(7, 1, x)
	if a[0] != b[0] || a[1] != b[1] {
		t.Errorf("batch size changed the certificates: %+v vs %+v", a, b)
	}
	if c := run(1000, 1, image(0.1, -0.1, 0, 0)); c[0] != a[1] {
		t.Errorf("batch composition changed a certificate: %+v vs %+v", c[0], a[1])
	}
	if c := run(1000, 2, x); c[0] == a[0] {
		t.Error("another seed gave the same certificate")
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	h := halfSpace{w: []float64{1, 0, 0, 0}}
	for _, sigma := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := New(h, sigma, nil); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("sigma %v: err = %v", sigma, err)
		}
	}
	if _, err := New(nil, 1, nil); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("nil base: err = %v", err)
	}
	if _, err := New(h, 1, &Options{Batch: -1}); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("negative batch: err = %v", err)
	}
	s, _ := New(h, 1, nil)
	x := image(0, 0, 0, 0)
	for _, tc := range []struct {
		n0, n int
		alpha float64
	}{{0, 10, 0.1}, {10, 0, 0.1}, {10, 10, 0}, {10, 10, 1}, {10, 10, math.NaN()}} {
		if _, err := s.Certify(ctx, x, tc.n0, tc.n, tc.alpha); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("Certify(%d, %d, %v): err = %v", tc.n0, tc.n, tc.alpha, err)
		}
	}
	if _, err := s.Predict(ctx, x, 0, 0.1); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("Predict n = 0: err = %v", err)
	}
	if _, err := s.Certify(ctx, image(200, 0, 0, 0), 1, 1, 0.1); !errors.Is(err, robust.ErrBounds) {
		t.Errorf("out of bounds: err = %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Certify(done, x, 1, 1, 0.1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if _, err := CertifiedAccuracy(nil, nil, 0); err == nil {
		t.Error("CertifiedAccuracy of nothing: no error")
	}
}

// TestNoise checks the training augmentation: it fits train.Trainer.Augment,
// keeps shape and bounds, leaves x alone and is deterministic for a seed.
func TestNoise(t *testing.T) {
	tr := train.Trainer{Augment: Noise{Sigma: 0.25}.Augment}
	v := make([]float32, 2*28*28)
	for i := range v {
		v[i] = float32(i%7) / 6
	}
	x := tensor.New(tensor.WithShape(2, 1, 28, 28), tensor.WithBacking(v))
	orig := append([]float32(nil), v...)
	a, err := tr.Augment(context.Background(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tr.Augment(context.Background(), x, 1)
	c, _ := tr.Augment(context.Background(), x, 2)
	ad, bd, cd := a.Data().([]float32), b.Data().([]float32), c.Data().([]float32)
	same, diff := true, false
	for i := range ad {
		if ad[i] < 0 || ad[i] > 1 {
			t.Fatalf("value %v outside [0, 1]", ad[i])
		}
		same = same && ad[i] == bd[i]
		diff = diff || ad[i] != cd[i]
		if v[i] != orig[i] {
			t.Fatal("input modified")
		}
	}
	if !same || !diff || !a.Shape().Eq(x.Shape()) {
		t.Errorf("deterministic %v, seed-dependent %v, shape %v", same, diff, a.Shape())
	}
	if _, err := (Noise{}).Augment(context.Background(), x, 1); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("zero sigma: err = %v", err)
	}
}
