package attack

import (
	"context"
	"math/rand/v2"

	"github.com/gorobust/gorobust/robust"
)

// apgdCheckpoints returns the iterations (counted from 1) after which APGD
// checks its step size, for a run of the given number of steps. It follows
// the reference implementation's integer form of the paper's schedule
// p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06): the first checkpoint comes
// after max(floor(0.22 n), 1) iterations, and each later interval is the
// previous one less max(floor(0.03 n), 1), but at least max(floor(0.06 n), 1).
// For n = 100 that is 22, 41, 57, 70, 80, 87, 93, 99, the paper's values.
func apgdCheckpoints(steps int) []int {
	k := max(int(0.22*float64(steps)), 1)
	dec := max(int(0.03*float64(steps)), 1)
	minK := max(int(0.06*float64(steps)), 1)
	var out []int
	for w := k; w <= steps; w += k {
		out = append(out, w)
		k = max(k-dec, minK)
	}
	return out
}

// apgdHalve decides one example's step size at a checkpoint. increases
// counts the loss-increasing steps among the k since the last checkpoint;
// reducedLast says whether the last checkpoint halved; bestLast and best are
// the best loss then and now.
func apgdHalve(increases, k int, rho float64, reducedLast bool, bestLast, best float64) bool {
	oscillating := float64(increases) < rho*float64(k)
	stalled := !reducedLast && bestLast >= best
	return oscillating || stalled
}

// run is one APGD run on all examples of p. It returns per example the last
// iterate that reached the goal, or else the best-loss iterate, with its
// loss and whether it reached the goal.
func (r apgdRunner) run(ctx context.Context, m robust.Differentiable, p *problem, obj robust.Objective, rng *rand.Rand) ([]float32, []float64, []bool, error) {
	n, d, b := p.n, p.d, r.ball
	xk := append([]float32(nil), p.x...)
	delta := make([]float64, d)
	for i := 0; i < n; i++ {
		boundaryStart(b.norm, rng, b.eps, delta)
		for j, v := range delta {
			xk[i*d+j] = float32(float64(xk[i*d+j]) + v)
		}
	}
	b.project(p.x, xk, d)
	gk := make([]float32, n*d)
	fk, ok, err := r.evaluate(ctx, m, p, xk, obj, gk, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	xBest, gBest, fBest := clone(xk), clone(gk), clone(fk)
	xAdv, broken := clone(xk), clone(ok)
	xPrev, xNext := clone(xk), make([]float32, n*d)
	eta := make([]float64, n)
	reducedLast := make([]bool, n)
	for i := range eta {
		eta[i] = apgdInitialStep * b.eps
		// As in the reference, condition 2 cannot fire at the first
		// checkpoint: there is no earlier one to compare with.
		reducedLast[i] = true
	}
	fBestLast, fPrev := clone(fBest), clone(fk)
	increases := make([]int, n)
	checkpoints := apgdCheckpoints(r.steps)
	last, next := 0, 0
	dir, z := make([]float32, d), make([]float32, d)
	boxLo, boxHi := b.limits(p.x)
	for it := 1; it <= r.steps; it++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, stopped(r.name, "iteration", it, err)
		}
		alpha := float32(apgdMomentum)
		if it == 1 {
			alpha = 1
		}
		for i := 0; i < n; i++ {
			lo, hi := i*d, (i+1)*d
			x0, xi, xp, xn := p.x[lo:hi], xk[lo:hi], xPrev[lo:hi], xNext[lo:hi]
			direction(b.norm, gk[lo:hi], dir)
			step := float32(eta[i])
			for j, v := range xi {
				z[j] = v + step*dir[j]
			}
			var bl, bh []float32
			if boxLo != nil {
				bl, bh = boxLo[lo:hi], boxHi[lo:hi]
			}
			b.projectLimits(x0, z, bl, bh, d)
			for j, v := range xi {
				xn[j] = v + alpha*(z[j]-v) + (1-alpha)*(v-xp[j])
			}
			b.projectLimits(x0, xn, bl, bh, d)
		}
		xPrev, xk, xNext = xk, xNext, xPrev
		fk, ok, err = r.evaluate(ctx, m, p, xk, obj, gk, it)
		if err != nil {
			return nil, nil, nil, err
		}
		for i := 0; i < n; i++ {
			lo, hi := i*d, (i+1)*d
			if ok[i] {
				copy(xAdv[lo:hi], xk[lo:hi])
				broken[i] = true
			}
			if fk[i] > fPrev[i] {
				increases[i]++
			}
			fPrev[i] = fk[i]
			if fk[i] > fBest[i] {
				copy(xBest[lo:hi], xk[lo:hi])
				copy(gBest[lo:hi], gk[lo:hi])
				fBest[i] = fk[i]
			}
		}
		if next < len(checkpoints) && it == checkpoints[next] {
			k := it - last
			for i := 0; i < n; i++ {
				halve := apgdHalve(increases[i], k, r.rho, reducedLast[i], fBestLast[i], fBest[i])
				reducedLast[i], fBestLast[i], increases[i] = halve, fBest[i], 0
				if halve {
					lo, hi := i*d, (i+1)*d
					eta[i] /= 2
					copy(xk[lo:hi], xBest[lo:hi])
					copy(gk[lo:hi], gBest[lo:hi])
				}
			}
			last, next = it, next+1
		}
	}
	for i := 0; i < n; i++ {
		if !broken[i] {
			copy(xAdv[i*d:(i+1)*d], xBest[i*d:(i+1)*d])
		}
	}
	return xAdv, fBest, broken, nil
}

// evaluate computes the loss at x, copies its gradient into g, and tells
// which examples reached the goal, calling Logits only when the loss cannot.
func (r apgdRunner) evaluate(ctx context.Context, m robust.Differentiable, p *problem, x []float32, obj robust.Objective, g []float32, it int) ([]float64, []bool, error) {
	loss32, grad, err := p.lossGrad(ctx, m, x, obj)
	if err != nil {
		return nil, nil, failed(r.name, "iteration", it, err)
	}
	copy(g, grad)
	ok, err := p.reachedAt(ctx, m, x, obj, loss32)
	if err != nil {
		return nil, nil, failed(r.name, "iteration", it, err)
	}
	loss := make([]float64, p.n)
	for i, v := range loss32 {
		loss[i] = float64(v)
	}
	return loss, ok, nil
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }
