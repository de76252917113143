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

// limits returns, for the LInf ball, every coordinate's feasible interval
// [lo, hi] (the ball around x0 intersected with the bounds) as float32
// values exactly inside, so that an iterate loop can project with clamp
// alone; for L2 it returns nil, nil.
func (b ball) limits(x0 []float32) (lo, hi []float32) {
	if b.norm != LInf {
		return nil, nil
	}
	lo, hi = make([]float32, len(x0)), make([]float32, len(x0))
	bl, bh := float64(b.bounds.Min), float64(b.bounds.Max)
	for j, xv := range x0 {
		l := float32(math.Max(float64(xv)-b.eps, bl))
		for math.Abs(float64(l)-float64(xv)) > b.eps {
			l = math.Nextafter32(l, xv)
		}
		h := float32(math.Min(float64(xv)+b.eps, bh))
		for math.Abs(float64(h)-float64(xv)) > b.eps {
			h = math.Nextafter32(h, xv)
		}
		lo[j], hi[j] = l, h
	}
	return lo, hi
}

// projectLimits projects v onto the LInf box [lo, hi] of limits, in place;
// a NaN coordinate goes back to x0's value. All slices have equal length.
// With nil limits (L2) it calls project.
func (b ball) projectLimits(x0, v, lo, hi []float32, d int) {
	if lo == nil {
		b.project(x0, v, d)
		return
	}
	for j, f := range v {
		if f != f {
			f = x0[j]
		}
		v[j] = min(max(f, lo[j]), hi[j])
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
