package attack

import (
	"math"

	"github.com/gorobust/gorobust/robust"
)

// ball is the feasible set of an attack: the Norm ball of radius eps around
// each clean example, intersected with the model's input bounds.
type ball struct {
	norm   Norm
	eps    float64
	bounds robust.Bounds
}

// project moves every example of v (d values each) into the ball around the
// matching example of x0, in place: first onto the norm ball, then clipped to
// the bounds; for LInf the stored float32 values are exactly inside. Clipping only moves coordinates toward x0, which lies inside
// the bounds, so it never leaves the norm ball.
func (b ball) project(x0, v []float32, d int) {
	lo, hi := float64(b.bounds.Min), float64(b.bounds.Max)
	for i := 0; i < len(x0)/d; i++ {
		xs, vs := x0[i*d:(i+1)*d], v[i*d:(i+1)*d]
		if b.norm == L2 {
			s := 0.0
			for j, xv := range xs {
				diff := float64(vs[j]) - float64(xv)
				s += diff * diff
			}
			if nrm := math.Sqrt(s); nrm > b.eps {
				scale := b.eps / nrm
				for j, xv := range xs {
					vs[j] = float32(float64(xv) + scale*(float64(vs[j])-float64(xv)))
				}
			}
		}
		for j, xv := range xs {
			val := float64(vs[j])
			if math.IsNaN(val) {
				val = float64(xv)
			}
			if b.norm != LInf {
				vs[j] = float32(math.Min(math.Max(val, lo), hi))
				continue
			}
			val = math.Min(math.Max(val, float64(xv)-b.eps), float64(xv)+b.eps)
			f := float32(math.Min(math.Max(val, lo), hi))
			// Rounding x0+eps to float32 can overshoot by half an ulp; step
			// back toward x0 so that every iterate, not only the output, is
			// inside the ball. Without this an attack would search a ball
			// slightly larger than the one its output lies in, and a
			// preprocessor that rounds to 8 bits (JPEG, BitDepth) can see
			// a whole grey level of difference at eps = k/255 + 1/510.
			for math.Abs(float64(f)-float64(xv)) > b.eps {
				f = math.Nextafter32(f, xv)
			}
			vs[j] = f
		}
	}
}

// finalize is the step every attack's output goes through, whatever its inner
// loop did: it returns a fresh copy of v projected onto the ball and the
// bounds, with the float32 rounding checked, so that the distance computed in
// float64 from the stored float32 values is at most eps exactly.
func (b ball) finalize(x0, v []float32, d int) []float32 {
	out := make([]float32, len(v))
	copy(out, v)
	b.project(x0, out, d)
	for i := 0; i < len(x0)/d; i++ {
		xs, vs := x0[i*d:(i+1)*d], out[i*d:(i+1)*d]
		if b.norm == LInf {
			for j, xv := range xs {
				// Rounding x0+eps to float32 can overshoot by half an ulp;
				// step back toward x0 until the stored value is inside.
				for math.Abs(float64(vs[j])-float64(xv)) > b.eps {
					vs[j] = math.Nextafter32(vs[j], xv)
				}
			}
			continue
		}
		for try := 0; b.norm.distance(xs, vs) > b.eps; try++ {
			if try == 8 {
				// Unreachable in practice; the clean point is always feasible.
				copy(vs, xs)
				break
			}
			// Shrink by a relative 2^-20, far above float32 rounding.
			scale := b.eps / b.norm.distance(xs, vs) * (1 - 1.0/(1<<20))
			for j, xv := range xs {
				vs[j] = float32(float64(xv) + scale*(float64(vs[j])-float64(xv)))
			}
		}
	}
	return out
}
