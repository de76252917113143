package defense

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

// blobs returns the trained test MLP and n held-out examples.
func blobs(t testing.TB, n int) (*testmodel.MLP, *tensor.Dense, []int) {
	t.Helper()
	m, x, y, err := testmodel.Trained(n)
	if err != nil {
		t.Fatal(err)
	}
	return m, x, y
}

func mustProtect(t testing.TB, m robust.Classifier, o *Options, ps ...Preprocessor) *Protected {
	t.Helper()
	p, err := Protect(m, o, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lossGrad(t testing.TB, m robust.Differentiable, x *tensor.Dense, obj robust.Objective) ([]float32, []float32) {
	t.Helper()
	l, g, err := m.LossGrad(context.Background(), x, obj)
	if err != nil {
		t.Fatal(err)
	}
	return l, data32(t, g)
}

// TestProtectDeterministic checks that a deterministic chain is exactly the
// model on the preprocessed input, with the BPDA gradient being the model's
// gradient there carried back through each stage.
func TestProtectDeterministic(t *testing.T) {
	ctx := context.Background()
	m, x, y := blobs(t, 20)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	c := Chain{JPEG{Quality: 30}, BitDepth{Bits: 3}}
	xt, err := c.Apply(ctx, x, m.Bounds(), 0)
	if err != nil {
		t.Fatal(err)
	}
	before := clone(x)
	p := mustProtect(t, m, nil, c...)
	z, err := p.Logits(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Logits(ctx, xt)
	if !equal32(data32(t, z), data32(t, want)) {
		t.Error("Logits differ from the model's on the preprocessed input")
	}
	l, g := lossGrad(t, p, x, obj)
	wl, wg := lossGrad(t, m, xt, obj)
	// BPDA: BitDepth passes the gradient through, JPEG's approximation
	// carries it back at JPEG's input, x.
	bg, err := c[0].(JPEG).ApproxBackward(ctx, x, m.Bounds(), 0, tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(wg)))
	if err != nil {
		t.Fatal(err)
	}
	if !equal32(l, wl) || !equal32(g, data32(t, bg)) {
		t.Error("BPDA LossGrad differs from the model's at the preprocessed input carried back through JPEG's approximation")
	}
	// A stage without a backward pass is carried through by the identity.
	il, ig := lossGrad(t, mustProtect(t, m, nil, identityBackward{c[0]}, c[1]), x, obj)
	if !equal32(il, wl) || !equal32(ig, wg) {
		t.Error("LossGrad through a stage without a backward pass differs from the model's at the preprocessed input")
	}
	if !equal32(data32(t, x), data32(t, before)) {
		t.Error("input modified")
	}
	if p.NumClasses() != m.NumClasses() || p.Bounds() != m.Bounds() || p.Randomized() {
		t.Error("NumClasses, Bounds or Randomized wrong")
	}
}

// TestProtectEOT checks that LossGrad with EOT is the mean over its draws of
// the per-draw BPDA gradients, and that averaging more draws makes two
// independent estimates agree better.
func TestProtectEOT(t *testing.T) {
	ctx := context.Background()
	m, x, y := blobs(t, 16)
	obj := robust.Objective{Kind: robust.Margin, Labels: y}
	c := Chain{GaussianNoise{Sigma: 0.1}, RandomResizePad{Ratio: 1.5}}
	const draws, seed = 4, 7
	p := mustProtect(t, m, &Options{EOTSamples: draws, Seed: seed}, c...)
	l, g := lossGrad(t, p, x, obj)
	wl := make([]float64, len(l))
	wg := make([]float64, len(g))
	for s := 0; s < draws; s++ {
		sd := mix.Hash(seed, streamGradient, uint64(s))
		xs, err := c.forward(ctx, x, m.Bounds(), sd)
		if err != nil {
			t.Fatal(err)
		}
		ls, gs := lossGrad(t, m, xs[len(xs)-1], obj)
		back, err := c.backward(ctx, xs, m.Bounds(), sd, tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(gs)))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range ls {
			wl[i] += float64(v) / draws
		}
		for j, v := range data32(t, back) {
			wg[j] += float64(v) / draws
		}
	}
	for i := range l {
		if math.Abs(float64(l[i])-wl[i]) > 1e-6*math.Max(1, math.Abs(wl[i])) {
			t.Fatalf("loss %d = %v, want the mean %v", i, l[i], wl[i])
		}
	}
	for j := range g {
		if math.Abs(float64(g[j])-wg[j]) > 1e-6 {
			t.Fatalf("gradient %d = %v, want the mean %v", j, g[j], wg[j])
		}
	}

	// Two estimates with independent seeds: their cosine similarity grows
	// with the number of draws averaged (EOT reduces the variance).
	cosine := func(eot int) float64 {
		_, a := lossGrad(t, mustProtect(t, m, &Options{EOTSamples: eot, Seed: 1}, c...), x, obj)
		_, b := lossGrad(t, mustProtect(t, m, &Options{EOTSamples: eot, Seed: 2}, c...), x, obj)
		return dot(a, b) / math.Sqrt(dot(a, a)*dot(b, b))
	}
	c1, c30 := cosine(1), cosine(30)
	t.Logf("cosine similarity of independent gradient estimates: 1 draw %.3f, 30 draws %.3f", c1, c30)
	if !(c30 > c1+0.3 && c30 > 0.8) {
		t.Errorf("EOT 30 estimates agree to %.3f, 1-draw estimates to %.3f; want 30 draws clearly better and > 0.8", c30, c1)
	}
}

// TestProtectRandomness checks the seeding contract: deterministic for a
// seed, independent of batch composition, call order and goroutines; a
// different seed or a different purpose (prediction or gradient) draws
// differently; PredictSamples averages probabilities.
func TestProtectRandomness(t *testing.T) {
	ctx := context.Background()
	m, x, y := blobs(t, 12)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	p := mustProtect(t, m, &Options{EOTSamples: 3, Seed: 5}, GaussianNoise{Sigma: 0.2})
	z1, err := p.Logits(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	_, g1 := lossGrad(t, p, x, obj)
	// Concurrent calls in another order.
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, g, err := p.LossGrad(ctx, x, obj)
			if err != nil || !equal32(data32(t, g), g1) {
				errs <- "concurrent LossGrad differs"
			}
			z, err := p.Logits(ctx, x)
			if err != nil || !equal32(data32(t, z), data32(t, z1)) {
				errs <- "concurrent Logits differs"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// Example 3 alone gets what it got in the batch.
	z3, _ := p.Logits(ctx, rows(x, 3, 4))
	if !equal32(data32(t, z3), data32(t, z1)[3*5:4*5]) {
		t.Error("Logits of an example depend on its batch")
	}
	q := mustProtect(t, m, &Options{EOTSamples: 3, Seed: 6}, GaussianNoise{Sigma: 0.2})
	zq, _ := q.Logits(ctx, x)
	if equal32(data32(t, zq), data32(t, z1)) {
		t.Error("another seed gives the same Logits")
	}
	// The draw Logits uses is not the first draw of LossGrad.
	xp, _ := p.Preprocess(ctx, x, 0)
	xg, _ := GaussianNoise{Sigma: 0.2}.Apply(ctx, x, m.Bounds(), stageSeed(mix.Hash(5, streamGradient, 0), 0))
	if equal32(data32(t, xp), data32(t, xg)) {
		t.Error("prediction and gradient draws coincide")
	}

	// PredictSamples: log of the mean of the draws' probabilities.
	avg := mustProtect(t, m, &Options{PredictSamples: 4, Seed: 5}, GaussianNoise{Sigma: 0.2})
	za, err := avg.Logits(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	k := m.NumClasses()
	want := make([]float64, len(data32(t, za)))
	for s := 0; s < 4; s++ {
		xs, _ := avg.Preprocess(ctx, x, s)
		zs, _ := m.Logits(ctx, xs)
		zd, _ := tensors.Float64s(zs)
		for i := 0; i < len(want)/k; i++ {
			softmax.Accumulate(zd[i*k:(i+1)*k], want[i*k:(i+1)*k])
		}
	}
	for j, v := range data32(t, za) {
		if math.Abs(math.Exp(float64(v))-want[j]/4) > 1e-6 {
			t.Fatalf("averaged probability %d = %v, want %v", j, math.Exp(float64(v)), want[j]/4)
		}
	}
}

func TestProtectErrors(t *testing.T) {
	ctx := context.Background()
	m, x, y := blobs(t, 4)
	for _, tc := range []struct {
		name string
		m    robust.Classifier
		o    *Options
		ps   []Preprocessor
	}{
		{"nil model", nil, nil, []Preprocessor{JPEG{}}},
		{"no preprocessors", m, nil, nil},
		{"bad preprocessor", m, nil, []Preprocessor{BitDepth{}}},
		{"negative EOT", m, &Options{EOTSamples: -1}, []Preprocessor{JPEG{}}},
		{"negative PredictSamples", m, &Options{PredictSamples: -1}, []Preprocessor{JPEG{}}},
	} {
		if _, err := Protect(tc.m, tc.o, tc.ps...); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("%s: err = %v, want robust.ErrConfig", tc.name, err)
		}
	}
	p := mustProtect(t, testmodel.NoGrad{Model: m}, nil, JPEG{})
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	if _, _, err := p.LossGrad(ctx, x, obj); !errors.Is(err, robust.ErrNoGradient) {
		t.Errorf("model without gradients: err = %v", err)
	}
	p = mustProtect(t, m, nil, JPEG{})
	high := clone(x)
	data32(t, high)[0] = 2
	if _, _, err := p.LossGrad(ctx, high, obj); !errors.Is(err, robust.ErrBounds) {
		t.Errorf("out-of-bounds input: err = %v", err)
	}
	if _, err := p.Logits(ctx, high); !errors.Is(err, robust.ErrBounds) {
		t.Errorf("out-of-bounds input to Logits: err = %v", err)
	}
	if _, _, err := p.LossGrad(ctx, x, robust.Objective{Kind: robust.CrossEntropy, Labels: y[:2]}); !errors.Is(err, robust.ErrShape) {
		t.Errorf("short labels: err = %v", err)
	}
}

// TestErrorShape: errors say "defense: Type.Field = value, want ...", with
// a chain stage's place, and wrap robust.ErrConfig.
func TestErrorShape(t *testing.T) {
	m, _, _ := blobs(t, 4)
	for _, tc := range []struct {
		ps  []Preprocessor
		msg string
	}{
		{[]Preprocessor{JPEG{Quality: 101}}, "defense: Chain[0]: JPEG.Quality = 101, want a value in [1, 100] (0 means the default 75): robust: invalid configuration"},
		{[]Preprocessor{JPEG{}, Chain{BitDepth{Bits: 4}, Median{Size: 1}}}, "defense: Chain[1]: Chain[1]: Median.Size = 1, want a value in [2, "},
	} {
		_, err := Protect(m, nil, tc.ps...)
		if !errors.Is(err, robust.ErrConfig) || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("got %v, want an error wrapping robust.ErrConfig that starts %q", err, tc.msg)
		}
	}
}
