package attack

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

func TestAPGDCheckpoints(t *testing.T) {
	cases := []struct {
		steps int
		want  []int
	}{
		// The paper's checkpoints for its 100 iterations.
		{100, []int{22, 41, 57, 70, 80, 87, 93, 99}},
		{1000, []int{220, 410, 570, 700, 800, 870, 930, 990}},
		// Short runs: every interval is at least one iteration.
		{1, []int{1}},
		{5, []int{1, 2, 3, 4, 5}},
		{10, []int{2, 3, 4, 5, 6, 7, 8, 9, 10}},
		// 40 steps: intervals 8, 7, 6, 5, 4, 3, 2, 2, 2.
		{40, []int{8, 15, 21, 26, 30, 33, 35, 37, 39}},
	}
	for _, c := range cases {
		if got := apgdCheckpoints(c.steps); !slices.Equal(got, c.want) {
			t.Errorf("apgdCheckpoints(%d) = %v, want %v", c.steps, got, c.want)
		}
	}
	// For 100 and 1000 iterations the integer schedule is exactly the paper's
	// p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06).
	for _, n := range []int{100, 1000} {
		var paper []int
		prev, p := 0.0, 0.22
		for p <= 1 {
			paper = append(paper, int(math.Round(p*float64(n))))
			prev, p = p, p+math.Max(p-prev-0.03, 0.06)
		}
		if got := apgdCheckpoints(n); !slices.Equal(got, paper) {
			t.Errorf("n = %d: schedule %v, paper %v", n, got, paper)
		}
	}
}

func TestAPGDHalve(t *testing.T) {
	const rho = 0.75
	cases := []struct {
		name           string
		increases, k   int
		reducedLast    bool
		bestLast, best float64
		want           bool
	}{
		{"mostly increasing, improving", 16, 20, false, 1, 2, false},
		{"exactly rho is not below rho", 15, 20, false, 1, 2, false},
		{"oscillating", 14, 20, false, 1, 2, true},
		{"stalled after no reduction", 20, 20, false, 2, 2, true},
		{"stalled right after a reduction", 20, 20, true, 2, 2, false},
		{"oscillating right after a reduction", 3, 20, true, 1, 2, true},
	}
	for _, c := range cases {
		if got := apgdHalve(c.increases, c.k, rho, c.reducedLast, c.bestLast, c.best); got != c.want {
			t.Errorf("%s: apgdHalve = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSquareSchedule(t *testing.T) {
	const p0 = 0.8
	cases := []struct {
		it, budget int
		want       float64
	}{
		{0, 10000, p0}, {10, 10000, p0}, {11, 10000, p0 / 2}, {50, 10000, p0 / 2},
		{51, 10000, p0 / 4}, {201, 10000, p0 / 8}, {501, 10000, p0 / 16},
		{1001, 10000, p0 / 32}, {2001, 10000, p0 / 64}, {4001, 10000, p0 / 128},
		{6001, 10000, p0 / 256}, {8001, 10000, p0 / 512}, {9999, 10000, p0 / 512},
		// Rescaled: with 1000 queries iteration 2 is iteration 20 of 10000.
		{1, 1000, p0}, {2, 1000, p0 / 2}, {101, 1000, p0 / 32}, {999, 1000, p0 / 512},
	}
	for _, c := range cases {
		if got := squareP(p0, c.it, c.budget); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("squareP(%d of %d) = %v, want %v", c.it, c.budget, got, c.want)
		}
	}
	sides := []struct {
		p    float64
		h, w int
		want int
	}{
		{0.8, 28, 28, 25}, {0.8 / 512, 28, 28, 1}, {1, 8, 8, 7}, {0.8, 8, 8, 7},
		{0.05, 32, 32, 7}, {1, 1, 5, 1}, {0.5, 4, 9, 3},
	}
	for _, c := range sides {
		if got := squareSide(c.p, c.h, c.w); got != c.want {
			t.Errorf("squareSide(%v, %d, %d) = %d, want %d", c.p, c.h, c.w, got, c.want)
		}
	}
}

// TestFinalizeExact feeds the final step points far outside the ball and
// the bounds, with radii whose float32 rounding would overshoot, and checks
// the float64 distance of the stored values never exceeds eps.
func TestFinalizeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 50, 37
	for _, norm := range []robust.Norm{robust.LInf, robust.L2} {
		for _, eps := range []float64{0.1, 0.3, 1.0 / 3, 8.0 / 255, 1e-4, 2.5} {
			if norm == robust.LInf && eps > 1 {
				continue
			}
			b := ball{norm: norm, eps: eps, bounds: robust.UnitBounds}
			x0 := make([]float32, n*d)
			v := make([]float32, n*d)
			for j := range x0 {
				x0[j] = rng.Float32()
				v[j] = x0[j] + float32(rng.NormFloat64())
			}
			v[3] = float32(math.NaN())
			orig := slices.Clone(v)
			out := b.finalize(x0, v, d)
			if !slices.Equal(orig[:3], v[:3]) || &out[0] == &v[0] {
				t.Fatal("finalize wrote to its input")
			}
			for i := 0; i < n; i++ {
				if dist := norm.Distance(x0[i*d:(i+1)*d], out[i*d:(i+1)*d]); dist > eps {
					t.Errorf("%v eps %v: example %d at distance %.12g", norm, eps, i, dist)
				}
			}
			for j, o := range out {
				if !(o >= 0 && o <= 1) {
					t.Fatalf("%v: out[%d] = %v outside [0, 1]", norm, j, o)
				}
			}
		}
	}
}

func TestWorstOffer(t *testing.T) {
	x := []float32{0, 0, 0, 0}
	w := newWorst(x, 2, 2)
	w.offer(0, []float32{1, 1}, 0.5, false)
	w.offer(0, []float32{2, 2}, 0.2, false) // lower loss: ignored
	if !slices.Equal(w.adv[:2], []float32{1, 1}) {
		t.Fatalf("lower loss replaced a higher one: %v", w.adv)
	}
	w.offer(0, []float32{3, 3}, 0.1, true) // success beats any loss
	w.offer(0, []float32{4, 4}, 9, true)   // but the first success stays
	w.offer(0, []float32{5, 5}, 99, false)
	if !slices.Equal(w.adv[:2], []float32{3, 3}) || !w.broken[0] {
		t.Fatalf("first success not kept: %v", w.adv)
	}
	w.offer(1, []float32{6, 6}, -3, false) // any loss beats the clean start
	if !slices.Equal(w.adv[2:], []float32{6, 6}) || w.broken[1] {
		t.Fatalf("first candidate not taken: %v", w.adv)
	}
	if got := w.unbroken(); !slices.Equal(got, []int{1}) {
		t.Errorf("unbroken = %v, want [1]", got)
	}
}

func TestDirection(t *testing.T) {
	out := make([]float32, 3)
	direction(robust.L2, []float32{0, 0, 0}, out)
	if !slices.Equal(out, []float32{0, 0, 0}) {
		t.Errorf("L2 direction of zero = %v", out)
	}
	direction(robust.L2, []float32{3, 0, -4}, out)
	if !slices.Equal(out, []float32{0.6, 0, -0.8}) {
		t.Errorf("L2 direction = %v", out)
	}
	// Tiny gradients must not underflow to NaN in the normalisation.
	direction(robust.L2, []float32{1e-30, 0, 0}, out)
	if out[0] != 1 {
		t.Errorf("L2 direction of a tiny gradient = %v", out)
	}
	direction(robust.LInf, []float32{-2, 0, 1e-30}, out)
	if !slices.Equal(out, []float32{-1, 0, 1}) {
		t.Errorf("LInf direction = %v", out)
	}
}

func TestUniformBall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const trials, d, eps = 2000, 10, 0.5
	delta := make([]float64, d)
	sum := 0.0
	for range trials {
		uniformBall(robust.L2, rng, eps, delta)
		r := 0.0
		for _, v := range delta {
			r += v * v
		}
		r = math.Sqrt(r)
		if r > eps*(1+1e-12) {
			t.Fatalf("L2 start at radius %v > %v", r, eps)
		}
		sum += r
	}
	// Uniform in the d-ball, the radius has mean eps*d/(d+1); 2000 draws
	// have a standard error near 0.001 here, so 0.01 is a loose bound.
	if mean := sum / trials; math.Abs(mean-eps*d/(d+1)) > 0.01 {
		t.Errorf("mean robust.L2 start radius %v, want about %v", mean, eps*d/(d+1))
	}
	for range trials {
		uniformBall(robust.LInf, rng, eps, delta)
		for _, v := range delta {
			if math.Abs(v) > eps {
				t.Fatalf("LInf start %v outside the ball", v)
			}
		}
		boundaryStart(robust.LInf, rng, eps, delta)
		mx := 0.0
		for _, v := range delta {
			mx = math.Max(mx, math.Abs(v))
		}
		if math.Abs(mx-eps) > 1e-12 {
			t.Fatalf("APGD robust.LInf start has norm %v, want %v", mx, eps)
		}
	}
}

// TestProjectionsExactAndEqual checks that every robust.LInf projection used inside
// attack loops leaves values whose float64 distance to x0 is at most eps
// (not only finalize's), and that the precomputed-limits projection gives
// exactly what project gives, NaN included.
func TestProjectionsExactAndEqual(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d = 40, 29
	for _, eps := range []float64{0.1, 0.3, 1.0 / 3, 8.0 / 255, 25.5 / 255, 1e-4} {
		b := ball{norm: robust.LInf, eps: eps, bounds: robust.UnitBounds}
		x0 := make([]float32, n*d)
		v := make([]float32, n*d)
		for j := range x0 {
			x0[j] = float32(rng.IntN(256)) / 255
			v[j] = x0[j] + float32(rng.NormFloat64())
		}
		v[5] = float32(math.NaN())
		a, c := slices.Clone(v), slices.Clone(v)
		b.project(x0, a, d)
		lo, hi := b.limits(x0)
		b.projectLimits(x0, c, lo, hi, d)
		if !slices.Equal(a, c) {
			t.Fatalf("eps %v: projectLimits differs from project", eps)
		}
		for j, o := range a {
			if math.Abs(float64(o)-float64(x0[j])) > eps || !(o >= 0 && o <= 1) {
				t.Fatalf("eps %v: value %d = %v is outside the ball around %v or the bounds", eps, j, o, x0[j])
			}
		}
	}
}
