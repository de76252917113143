package attack

import (
	"context"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Square defaults.
const (
	// DefaultSquareQueries is the query budget when MaxQueries is 0, as in
	// AutoAttack's standard version (the paper uses 10000).
	DefaultSquareQueries = 5000
	// DefaultSquarePInit is the initial fraction of pixels a square covers
	// when PInit is 0: AutoAttack's value, and the paper's for adversarially
	// trained MNIST models (the paper uses 0.05 for undefended ImageNet
	// models).
	DefaultSquarePInit = 0.8
)

const squareStream = 0x5a0a

// squareChanged is the tolerance below which a proposed value counts as no
// change, the reference implementation's 1e-7.
const squareChanged = 1e-7

// squareTries bounds the resampling of a proposal that would change
// nothing; each try changes something with probability at least 1/2.
const squareTries = 16

// Square is the robust.LInf Square Attack (Andriushchenko, Croce, Flammarion and
// Hein, "Square Attack: a query-efficient black-box adversarial attack via
// random search", ECCV 2020, https://arxiv.org/abs/1912.00049). It is
// score-based: it uses only Logits, so it also attacks models without
// gradients, and gradient masking does not fool it.
//
// It starts from vertical stripes (each column of each channel at x ± Eps,
// signs at random) and then, per iteration and per unbroken example,
// proposes to set a random square window of side s in every channel to
// x ± Eps (one random sign per channel), keeping the proposal when it lowers
// the margin z_y - max_{j != y} z_j (targeted: max_{j != t} z_j - z_t) or
// reaches the goal. The square covers a fraction p of the pixels, s =
// round(sqrt(p*H*W)) clamped to [1, min(H, W) - 1], where p starts at PInit
// and halves after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000
// iterations of a 10000 budget, rescaled to MaxQueries. A proposal that
// would change nothing is resampled. Windows may touch every pixel (the
// reference never places one at the last row or column).
//
// Cost: at most MaxQueries Logits calls, the first on all N examples, later
// ones on the unbroken examples only; it stops when every example is broken.
// Randomized; deterministic for a given Seed and a deterministic model.
//
// The zero value is not usable: Eps must be set. A Square value is read-only
// during Perturb and safe to share between goroutines.
type Square struct {
	// Eps is the robust.LInf radius, in the model's pixel units. Required.
	Eps float64
	// MaxQueries is the query budget per example, counting the
	// initialisation. If MaxQueries is 0, DefaultSquareQueries (5000) is used.
	MaxQueries int
	// PInit is the initial fraction of pixels changed per query, in (0, 1].
	// If PInit is 0, DefaultSquarePInit (0.8) is used.
	PInit float64
	// Seed seeds the random search (PCG from math/rand/v2). Every seed,
	// including 0, is a fixed seed.
	Seed uint64
}

var (
	_ robust.Attack = Square{}
	_ Targeted      = Square{}
)

// Validate reports whether the hyper-parameters are usable. Perturb calls it.
func (a Square) Validate() error {
	if err := checkEps("Square", a.Eps); err != nil {
		return err
	}
	if err := checkCount("Square", "MaxQueries", a.MaxQueries); err != nil {
		return err
	}
	return checkOptionalPositive("Square", "PInit", a.PInit, 1)
}

// Perturb implements robust.Attack: it lowers the margin of the true labels
// y. m needs only Logits.
func (a Square) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, nil, false)
}

// PerturbTargeted implements Targeted: it raises the margin of targets over
// every other class.
func (a Square) PerturbTargeted(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, targets, true)
}

// squareP is the fraction of pixels a square covers at iteration it (from
// 0) of a budget of the given number of queries.
func squareP(pInit float64, it, budget int) float64 {
	i := int(float64(it) / float64(budget) * 10000)
	halvings := 0
	for _, t := range [...]int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if i > t {
			halvings++
		}
	}
	return pInit / float64(int(1)<<halvings)
}

// squareSide is the side of a square covering a fraction p of h x w pixels.
func squareSide(p float64, h, w int) int {
	s := int(math.Round(math.Sqrt(p * float64(h*w))))
	return min(max(s, 1), max(min(h, w)-1, 1))
}

func (a Square) perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool) (*tensor.Dense, error) {
	const name = "Square"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, err := prepare(name, m, x, y, targets, targeted)
	if err != nil {
		return nil, err
	}
	b := ball{norm: robust.LInf, eps: a.Eps, bounds: p.bounds}
	if err := checkBudget(name, robust.LInf, a.Eps, p.bounds, p.d); err != nil {
		return nil, err
	}
	budget, pInit := orInt(a.MaxQueries, DefaultSquareQueries), a.PInit
	if pInit == 0 {
		pInit = DefaultSquarePInit
	}
	rng := newRNG(a.Seed, squareStream)
	eps := float32(a.Eps)
	best := append([]float32(nil), p.x...)
	plane := p.h * p.w
	for i := 0; i < p.n; i++ {
		for c := 0; c < p.c; c++ {
			for col := 0; col < p.w; col++ {
				sign := randSign(rng)
				for row := 0; row < p.h; row++ {
					best[i*p.d+c*plane+row*p.w+col] += sign * eps
				}
			}
		}
	}
	b.project(p.x, best, p.d)
	if err := ctx.Err(); err != nil {
		return nil, stopped(name, "query", 1, err)
	}
	margin, broken, err := a.margins(ctx, m, p, best)
	if err != nil {
		return nil, failed(name, "query", 1, err)
	}
	for it := 0; it+1 < budget; it++ {
		var idx []int
		for i, done := range broken {
			if !done {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, stopped(name, "query", it+2, err)
		}
		q := p.subset(idx)
		s := squareSide(squareP(pInit, it, budget), p.h, p.w)
		cand := gather(best, p.d, idx)
		for r, i := range idx {
			a.propose(rng, p, p.x[i*p.d:(i+1)*p.d], cand[r*p.d:(r+1)*p.d], s)
		}
		newMargin, ok, err := a.margins(ctx, m, q, cand)
		if err != nil {
			return nil, failed(name, "query", it+2, err)
		}
		for r, i := range idx {
			if ok[r] || newMargin[r] < margin[i] {
				copy(best[i*p.d:(i+1)*p.d], cand[r*p.d:(r+1)*p.d])
				margin[i], broken[i] = newMargin[r], ok[r]
			}
		}
	}
	return p.tensor(b.finalize(p.x, best, p.d)), nil
}

// propose rewrites one random s x s window of example v (clean values x0)
// to x0 ± eps with one random sign per channel, resampling the signs when
// the proposal would change nothing.
func (a Square) propose(rng *rand.Rand, p *problem, x0, v []float32, s int) {
	plane := p.h * p.w
	vh, vw := rng.IntN(p.h-s+1), rng.IntN(p.w-s+1)
	lo, hi := p.bounds.Min, p.bounds.Max
	signs := make([]float32, p.c)
	value := func(c, row, col int) float32 {
		j := c*plane + row*p.w + col
		return min(max(x0[j]+signs[c]*float32(a.Eps), lo), hi)
	}
	for try := 0; try < squareTries; try++ {
		for c := range signs {
			signs[c] = randSign(rng)
		}
		if squareChanges(p, v, s, vh, vw, value) {
			break
		}
	}
	for c := 0; c < p.c; c++ {
		for row := vh; row < vh+s; row++ {
			for col := vw; col < vw+s; col++ {
				v[c*plane+row*p.w+col] = value(c, row, col)
			}
		}
	}
}

// squareChanges reports whether writing value over the window changes v.
func squareChanges(p *problem, v []float32, s, vh, vw int, value func(c, row, col int) float32) bool {
	plane := p.h * p.w
	for c := 0; c < p.c; c++ {
		for row := vh; row < vh+s; row++ {
			for col := vw; col < vw+s; col++ {
				if math.Abs(float64(value(c, row, col)-v[c*plane+row*p.w+col])) >= squareChanged {
					return true
				}
			}
		}
	}
	return false
}

func randSign(rng *rand.Rand) float32 {
	if rng.IntN(2) == 0 {
		return -1
	}
	return 1
}

// margins queries the model once and returns each example's margin (to be
// minimised) and whether it reached the goal.
func (a Square) margins(ctx context.Context, m robust.Classifier, p *problem, v []float32) ([]float64, []bool, error) {
	z, err := p.logits(ctx, m, v)
	if err != nil {
		return nil, nil, err
	}
	margin := make([]float64, p.n)
	ok := make([]bool, p.n)
	for i := range margin {
		row := z[i*p.k : (i+1)*p.k]
		c := p.labels[i]
		if p.targets != nil {
			c = p.targets[i]
		}
		other := math.Inf(-1)
		for j, zj := range row {
			if j != c {
				other = math.Max(other, zj)
			}
		}
		margin[i] = row[c] - other
		if p.targets != nil {
			margin[i] = -margin[i]
		}
		ok[i] = p.reached(i, row)
	}
	return margin, ok, nil
}
