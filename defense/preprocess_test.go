package defense

import (
	"context"
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// preprocessors lists one or more configurations of every preprocessor,
// with the channel counts each accepts.
func preprocessors() []struct {
	name   string
	p      Preprocessor
	colour bool // also accepts 3 channels (all do but none refuses 1)
} {
	return []struct {
		name   string
		p      Preprocessor
		colour bool
	}{
		{"JPEG default", JPEG{}, true},
		{"JPEG q20", JPEG{Quality: 20}, true},
		{"BitDepth 1", BitDepth{Bits: 1}, true},
		{"BitDepth 5", BitDepth{Bits: 5}, true},
		{"Median default", Median{}, true},
		{"Median 3", Median{Size: 3}, true},
		{"GaussianNoise 0.1", GaussianNoise{Sigma: 0.1}, true},
		{"RandomResizePad default", RandomResizePad{}, true},
		{"RandomResizePad 1.5", RandomResizePad{Ratio: 1.5}, true},
		{"Chain", Chain{GaussianNoise{Sigma: 0.05}, JPEG{Quality: 50}, RandomResizePad{}, Median{}, BitDepth{Bits: 4}}, true},
	}
}

// TestPreprocessorInvariants checks, for every preprocessor on real MNIST
// images and on random colour images with unusual bounds: output in bounds,
// input unchanged, shape preserved, deterministic for a seed, a new seed
// changing exactly the randomized ones, and each example's output not
// depending on the rest of the batch.
func TestPreprocessorInvariants(t *testing.T) {
	ctx := context.Background()
	grey, _ := mnistImages(t, 6)
	odd := robust.Bounds{Min: -1, Max: 2}
	inputs := []struct {
		name string
		x    *tensor.Dense
		b    robust.Bounds
	}{
		{"MNIST", grey, robust.UnitBounds},
		{"RGB 20x17 in [-1, 2]", uniformImages(7, 3, 3, 20, 17, odd), odd},
	}
	for _, tc := range preprocessors() {
		for _, in := range inputs {
			t.Run(tc.name+"/"+in.name, func(t *testing.T) {
				before := clone(in.x)
				out, err := tc.p.Apply(ctx, in.x, in.b, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !equal32(data32(t, in.x), data32(t, before)) {
					t.Fatal("input modified")
				}
				if !out.Shape().Eq(in.x.Shape()) {
					t.Fatalf("shape %v, want %v", out.Shape(), in.x.Shape())
				}
				for i, v := range data32(t, out) {
					if !(v >= in.b.Min && v <= in.b.Max) {
						t.Fatalf("output[%d] = %v outside %v", i, v, in.b)
					}
				}
				again, err := tc.p.Apply(ctx, in.x, in.b, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !equal32(data32(t, out), data32(t, again)) {
					t.Fatal("not deterministic for a seed")
				}
				other, err := tc.p.Apply(ctx, in.x, in.b, 2)
				if err != nil {
					t.Fatal(err)
				}
				if same := equal32(data32(t, out), data32(t, other)); same == tc.p.Randomized() {
					t.Fatalf("Randomized() = %v but another seed gives the same output: %v", tc.p.Randomized(), same)
				}
				// Example 2 alone must get what it got inside the batch.
				one, err := tc.p.Apply(ctx, rows(in.x, 2, 3), in.b, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !equal32(data32(t, one), data32(t, rows(out, 2, 3))) {
					t.Fatal("an example's output depends on the rest of the batch")
				}
				if changed := !equal32(data32(t, out), data32(t, in.x)); !changed {
					t.Fatal("output equals input")
				}
			})
		}
	}
}

// TestPreprocessorErrors checks that bad parameters and bad inputs are
// errors wrapping the right sentinel.
func TestPreprocessorErrors(t *testing.T) {
	ctx := context.Background()
	x, _ := mnistImages(t, 2)
	params := []struct {
		name string
		p    Preprocessor
	}{
		{"JPEG quality -1", JPEG{Quality: -1}},
		{"JPEG quality 101", JPEG{Quality: 101}},
		{"BitDepth 0", BitDepth{}},
		{"BitDepth 17", BitDepth{Bits: 17}},
		{"Median 1", Median{Size: 1}},
		{"Median -2", Median{Size: -2}},
		{"Median 16", Median{Size: MaxMedianSize + 1}},
		{"GaussianNoise 0", GaussianNoise{}},
		{"GaussianNoise -0.1", GaussianNoise{Sigma: -0.1}},
		{"GaussianNoise NaN", GaussianNoise{Sigma: math.NaN()}},
		{"GaussianNoise Inf", GaussianNoise{Sigma: math.Inf(1)}},
		{"RandomResizePad 1", RandomResizePad{Ratio: 1}},
		{"RandomResizePad 0.5", RandomResizePad{Ratio: 0.5}},
		{"RandomResizePad 5", RandomResizePad{Ratio: 5}},
		{"RandomResizePad NaN", RandomResizePad{Ratio: math.NaN()}},
		{"RandomResizePad no room", RandomResizePad{Ratio: 1.01}}, // round(28.28) = 28
		{"empty Chain", Chain{}},
		{"Chain with nil", Chain{JPEG{}, nil}},
		{"Chain with a bad stage", Chain{JPEG{}, BitDepth{}}},
	}
	for _, tc := range params {
		_, err := tc.p.Apply(ctx, x, robust.UnitBounds, 0)
		if !errors.Is(err, robust.ErrConfig) {
			t.Errorf("%s: err = %v, want robust.ErrConfig", tc.name, err)
		}
	}

	nan := clone(x)
	data32(t, nan)[5] = float32(math.NaN())
	high := clone(x)
	data32(t, high)[5] = 1.5
	flat := tensor.New(tensor.WithShape(2, 784), tensor.WithBacking(make([]float32, 2*784)))
	f64 := tensor.New(tensor.WithShape(1, 1, 4, 4), tensor.WithBacking(make([]float64, 16)))
	inputs := []struct {
		name string
		x    *tensor.Dense
		b    robust.Bounds
		want error
	}{
		{"NaN", nan, robust.UnitBounds, robust.ErrNonFinite},
		{"out of bounds", high, robust.UnitBounds, robust.ErrBounds},
		{"2-D", flat, robust.UnitBounds, robust.ErrShape},
		{"float64", f64, robust.UnitBounds, robust.ErrShape},
		{"nil", nil, robust.UnitBounds, robust.ErrShape},
		{"bad bounds", x, robust.Bounds{Min: 1, Max: 0}, robust.ErrConfig},
	}
	for _, tc := range preprocessors() {
		for _, in := range inputs {
			if _, err := tc.p.Apply(ctx, in.x, in.b, 0); !errors.Is(err, in.want) {
				t.Errorf("%s on %s: err = %v, want %v", tc.name, in.name, err, in.want)
			}
		}
	}
	two := uniformImages(1, 1, 2, 8, 8, robust.UnitBounds)
	if _, err := (JPEG{}).Apply(ctx, two, robust.UnitBounds, 0); !errors.Is(err, robust.ErrShape) {
		t.Errorf("JPEG of 2 channels: err = %v, want robust.ErrShape", err)
	}
	small := uniformImages(1, 1, 1, 2, 2, robust.UnitBounds)
	if _, err := (Median{Size: 3}).Apply(ctx, small, robust.UnitBounds, 0); !errors.Is(err, robust.ErrShape) {
		t.Errorf("Median 3 of a 2x2 image: err = %v, want robust.ErrShape", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range preprocessors() {
		if tc.p.Randomized() || tc.name == "JPEG default" || tc.name == "Median default" {
			if _, err := tc.p.Apply(done, x, robust.UnitBounds, 0); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: err = %v", tc.name, err)
			}
		}
	}
}

// TestBitDepth checks the levels: 1 bit thresholds at 1/2 (half to even
// sends 0.5 to 0), 2 bits give 0, 1/3, 2/3, 1.
func TestBitDepth(t *testing.T) {
	in := []float32{0, 0.2, 0.5, 0.51, 1, 0.16, 0.17, 0.5, 0.84}
	x := tensor.New(tensor.WithShape(1, 1, 1, len(in)), tensor.WithBacking(in))
	for _, tc := range []struct {
		bits int
		want []float32
	}{
		{1, []float32{0, 0, 0, 1, 1, 0, 0, 0, 1}},
		{2, []float32{0, 1. / 3, 2. / 3, 2. / 3, 1, 0, 1. / 3, 2. / 3, 1}},
	} {
		out, err := BitDepth{Bits: tc.bits}.Apply(context.Background(), x, robust.UnitBounds, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := data32(t, out)
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-7 {
				t.Errorf("%d bits: %v -> %v, want %v", tc.bits, in[i], got[i], tc.want[i])
			}
		}
	}
}

// TestMedian checks a 3x3 image against values worked out by hand from
// scipy.ndimage.median_filter's documented conventions (window offsets
// -size/2 .. (size-1)/2, reflect borders, rank size^2/2).
func TestMedian(t *testing.T) {
	in := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	for i := range in {
		in[i] /= 10
	}
	x := tensor.New(tensor.WithShape(1, 1, 3, 3), tensor.WithBacking(in))
	for _, tc := range []struct {
		size int
		want []float32
	}{
		{2, []float32{1, 2, 3, 4, 4, 5, 7, 7, 8}},
		// Size 3, corner (0,0): rows {0,0,1}, cols {0,0,1} -> 1,1,2,1,1,2,4,4,5 -> 2.
		{3, []float32{2, 3, 3, 4, 5, 6, 7, 7, 8}},
	} {
		out, err := Median{Size: tc.size}.Apply(context.Background(), x, robust.UnitBounds, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := data32(t, out)
		for i := range got {
			if got[i] != tc.want[i]/10 {
				t.Errorf("size %d: pixel %d = %v, want %v", tc.size, i, got[i]*10, tc.want[i])
			}
		}
	}
}

// TestGaussianNoiseMoments checks the noise's mean and standard deviation
// away from the bounds: 100,000 draws give a standard error of sigma/316.
// They are drawn for one image: equal images would get equal noise.
func TestGaussianNoiseMoments(t *testing.T) {
	const sigma = 0.05
	v := make([]float32, 100000)
	for i := range v {
		v[i] = 0.5
	}
	x := tensor.New(tensor.WithShape(1, 1, 250, 400), tensor.WithBacking(v))
	out, err := GaussianNoise{Sigma: sigma}.Apply(context.Background(), x, robust.UnitBounds, 3)
	if err != nil {
		t.Fatal(err)
	}
	var s, s2 float64
	for _, o := range data32(t, out) {
		d := float64(o) - 0.5
		s += d
		s2 += d * d
	}
	n := float64(len(v))
	mean, sd := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
	// 5 standard errors: sigma/316 for the mean, about sigma/447 for sd.
	if math.Abs(mean) > 5*sigma/316 || math.Abs(sd-sigma) > 5*sigma/447 {
		t.Errorf("noise mean %v, sd %v; want 0 and %v", mean, sd, sigma)
	}
}

// TestRandomResizePadAdjoint checks that Backward is the transpose of the
// map Apply draws for the same input: Apply(x) - lo = M (x - lo) for a
// linear M, so <Apply(x) - lo, g> = <x - lo, Backward(x, g)>.
func TestRandomResizePadAdjoint(t *testing.T) {
	ctx := context.Background()
	odd := robust.Bounds{Min: -1, Max: 2}
	for _, tc := range []struct {
		p    RandomResizePad
		x    *tensor.Dense
		b    robust.Bounds
		name string
	}{
		{RandomResizePad{}, uniformImages(1, 4, 1, 28, 28, robust.UnitBounds), robust.UnitBounds, "MNIST-sized"},
		{RandomResizePad{Ratio: 1.7}, uniformImages(2, 3, 3, 13, 19, odd), odd, "non-square colour"},
	} {
		g := uniformImages(9, tc.x.Shape()[0], tc.x.Shape()[1], tc.x.Shape()[2], tc.x.Shape()[3], robust.Bounds{Min: -1, Max: 1})
		for seed := uint64(0); seed < 5; seed++ {
			out, err := tc.p.Apply(ctx, tc.x, tc.b, seed)
			if err != nil {
				t.Fatal(err)
			}
			back, err := tc.p.Backward(ctx, tc.x, tc.b, seed, g)
			if err != nil {
				t.Fatal(err)
			}
			lo := func(v []float32) []float32 {
				out := make([]float32, len(v))
				for i := range v {
					out[i] = v[i] - tc.b.Min
				}
				return out
			}
			l, r := dot(lo(data32(t, out)), data32(t, g)), dot(lo(data32(t, tc.x)), data32(t, back))
			// float32 outputs: relative error about 1e-7 per term.
			if math.Abs(l-r) > 1e-5*math.Max(1, math.Abs(l)) {
				t.Errorf("%s seed %d: <Apply(x), g> = %v, <x, Backward(g)> = %v", tc.name, seed, l, r)
			}
		}
	}
}

// TestChainBackwardUsesStageInputs checks BPDA through a chain: each
// differentiable stage's backward runs at its own input, the output of the
// stages before it, and so does JPEG's approximate backward pass.
func TestChainBackwardUsesStageInputs(t *testing.T) {
	ctx := context.Background()
	x, _ := mnistImages(t, 3)
	g := uniformImages(4, 3, 1, 28, 28, robust.Bounds{Min: -1, Max: 1})
	b := robust.UnitBounds
	rrp, jpg := RandomResizePad{Ratio: 1.3}, JPEG{Quality: 30}
	c := Chain{jpg, rrp, rrp}
	const seed = 11
	got, err := c.Backward(ctx, x, b, seed, g)
	if err != nil {
		t.Fatal(err)
	}
	// By hand: x1 = JPEG(x), x2 = RRP(x1), x3 = RRP(x2).
	x1, _ := jpg.Apply(ctx, x, b, stageSeed(seed, 0))
	x2, _ := rrp.Apply(ctx, x1, b, stageSeed(seed, 1))
	g2, _ := rrp.Backward(ctx, x2, b, stageSeed(seed, 2), g)
	g1, _ := rrp.Backward(ctx, x1, b, stageSeed(seed, 1), g2)
	want, _ := jpg.ApproxBackward(ctx, x, b, stageSeed(seed, 0), g1)
	if !equal32(data32(t, got), data32(t, want)) {
		t.Fatal("Chain.Backward differs from the stage-by-stage backward pass")
	}
	// The same backward pass at the chain's input instead is different.
	wrong, _ := rrp.Backward(ctx, x, b, stageSeed(seed, 1), g2)
	if equal32(data32(t, got), data32(t, wrong)) {
		t.Fatal("test cannot tell stage inputs apart")
	}
	// A chain without differentiable or approximated stages passes the
	// gradient through.
	id, err := Chain{Median{}, BitDepth{Bits: 3}}.Backward(ctx, x, b, seed, g)
	if err != nil {
		t.Fatal(err)
	}
	if !equal32(data32(t, id), data32(t, g)) {
		t.Fatal("BPDA through non-differentiable stages is not the identity")
	}
	if _, err := c.Backward(ctx, x, b, seed, nil); !errors.Is(err, robust.ErrShape) {
		t.Errorf("nil gradient: err = %v", err)
	}
	if _, err := c.Backward(ctx, x, b, seed, rows(g, 0, 1)); !errors.Is(err, robust.ErrShape) {
		t.Errorf("gradient of another shape: err = %v", err)
	}
}
