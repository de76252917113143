package attack

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Norm is the distance in which an attack's budget Eps is measured, per
// example, in pixel space.
type Norm int

const (
	// LInf bounds max_i |x_adv_i - x_i|. A zero Norm field means LInf.
	LInf Norm = iota + 1
	// L2 bounds sqrt(sum_i (x_adv_i - x_i)^2), the sum over all C*H*W
	// values of one example.
	L2
)

// String returns "linf" or "l2".
func (n Norm) String() string {
	switch n {
	case LInf:
		return "linf"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// orDefault maps the zero Norm to LInf.
func (n Norm) orDefault() Norm {
	if n == 0 {
		return LInf
	}
	return n
}

func (n Norm) valid() bool { return n == LInf || n == L2 }

// Distances returns the norm of x_adv - x for each example of two tensors of
// the same N x C x H x W shape, computed in float64 from the float32 values.
// A zero Norm means LInf.
func (n Norm) Distances(x, xAdv *tensor.Dense) ([]float64, error) {
	n = n.orDefault()
	if !n.valid() {
		return nil, configErr("unknown norm %d", int(n))
	}
	nx, a, err := tensors.Images(x)
	if err != nil {
		return nil, fmt.Errorf("attack: x: %w", err)
	}
	_, b, err := tensors.Images(xAdv)
	if err != nil {
		return nil, fmt.Errorf("attack: x_adv: %w", err)
	}
	if !x.Shape().Eq(xAdv.Shape()) {
		return nil, fmt.Errorf("attack: x has shape %v, x_adv %v: %w", x.Shape(), xAdv.Shape(), robust.ErrShape)
	}
	d := len(a) / nx
	out := make([]float64, nx)
	for i := range out {
		out[i] = n.distance(a[i*d:(i+1)*d], b[i*d:(i+1)*d])
	}
	return out, nil
}

func (n Norm) distance(x, v []float32) float64 {
	s := 0.0
	for j, xv := range x {
		diff := math.Abs(float64(v[j]) - float64(xv))
		if n == LInf {
			s = math.Max(s, diff)
		} else {
			s += diff * diff
		}
	}
	if n == L2 {
		s = math.Sqrt(s)
	}
	return s
}

// direction writes the steepest-ascent direction of unit norm for one
// example's gradient g into out: sign(g) for LInf, g/||g||_2 for L2. A zero
// gradient gives a zero direction, never NaN, so the iterate stays put.
func (n Norm) direction(g, out []float32) {
	if n == LInf {
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
func (n Norm) uniformBall(rng *rand.Rand, eps float64, delta []float64) {
	if n == LInf {
		for j := range delta {
			delta[j] = eps * (2*rng.Float64() - 1)
		}
		return
	}
	r := eps * math.Pow(rng.Float64(), 1/float64(len(delta)))
	n.sphere(rng, r, delta)
}

// sphere writes into delta a Gaussian direction scaled to L2 norm r.
func (n Norm) sphere(rng *rand.Rand, r float64, delta []float64) {
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
func (n Norm) boundaryStart(rng *rand.Rand, eps float64, delta []float64) {
	if n == L2 {
		n.sphere(rng, eps, delta)
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
