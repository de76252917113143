package attack

import (
	"math"
	"math/rand/v2"

	"github.com/gorobust/gorobust/robust"
)

// orLInf maps the zero Norm to robust.LInf.
func orLInf(n robust.Norm) robust.Norm {
	if n == 0 {
		return robust.LInf
	}
	return n
}

// direction writes the steepest-ascent direction of unit norm for one
// example's gradient g into out: sign(g) for LInf, g/||g||_2 for L2. A zero
// gradient gives a zero direction, never NaN, so the iterate stays put.
func direction(n robust.Norm, g, out []float32) {
	if n == robust.LInf {
		for j, v := range g {
			switch {
			case v > 0:
				out[j] = 1
			case v < 0:
				out[j] = -1
			default:
				out[j] = 0
			}
		}
		return
	}
	s := 0.0
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	if s == 0 {
		clear(out)
		return
	}
	inv := 1 / math.Sqrt(s)
	for j, v := range g {
		out[j] = float32(float64(v) * inv)
	}
}

// uniformBall writes into delta a point drawn uniformly from the ball of
// radius eps: independent uniform coordinates for LInf; for L2 a Gaussian
// direction normalised to the sphere at radius eps*u^(1/d), which is uniform
// in volume.
func uniformBall(n robust.Norm, rng *rand.Rand, eps float64, delta []float64) {
	if n == robust.LInf {
		for j := range delta {
			delta[j] = eps * (2*rng.Float64() - 1)
		}
		return
	}
	r := eps * math.Pow(rng.Float64(), 1/float64(len(delta)))
	sphere(rng, r, delta)
}

// sphere writes into delta a Gaussian direction scaled to L2 norm r.
func sphere(rng *rand.Rand, r float64, delta []float64) {
	s := 0.0
	for j := range delta {
		delta[j] = rng.NormFloat64()
		s += delta[j] * delta[j]
	}
	if s == 0 {
		// Probability zero; leave the start at the centre rather than divide by zero.
		clear(delta)
		return
	}
	scale := r / math.Sqrt(s)
	for j := range delta {
		delta[j] *= scale
	}
}

// boundaryStart writes into delta the starting perturbation of APGD, on or
// near the boundary of the ball: for LInf eps*t/||t||_inf with t uniform in
// [-1, 1]^d, for L2 a uniform point on the sphere of radius eps.
func boundaryStart(n robust.Norm, rng *rand.Rand, eps float64, delta []float64) {
	if n == robust.L2 {
		sphere(rng, eps, delta)
		return
	}
	mx := 0.0
	for j := range delta {
		delta[j] = 2*rng.Float64() - 1
		mx = math.Max(mx, math.Abs(delta[j]))
	}
	if mx == 0 {
		clear(delta)
		return
	}
	for j := range delta {
		delta[j] *= eps / mx
	}
}
