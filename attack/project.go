package attack

import (
	"math"

	"github.com/gorobust/gorobust/robust"
)

// ball is the feasible set of an attack: the Norm ball of radius eps around
// each clean example, intersected with the model's input bounds.
type ball struct {
	norm   robust.Norm
	eps    float64
	bounds robust.Bounds
}

// project moves every example of v (d values each) into the ball around the
// matching example of x0, in place: first onto the norm ball, then clipped to
// the bounds. Clipping only moves coordinates toward x0, which lies inside
// the bounds, so it never leaves the norm ball. For robust.LInf the stored float32
// values are exactly inside (see interval). A NaN coordinate goes back to
// x0's value.
func (b ball) project(x0, v []float32, d int) {
	if b.norm == robust.LInf {
		for j, xv := range x0 {
			l, h := b.interval(xv)
			v[j] = clampNaN(v[j], xv, l, h)
		}
		return
	}
	lo, hi := float64(b.bounds.Min), float64(b.bounds.Max)
	for i := 0; i < len(x0)/d; i++ {
		xs, vs := x0[i*d:(i+1)*d], v[i*d:(i+1)*d]
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
		for j, xv := range xs {
			val := float64(vs[j])
			if math.IsNaN(val) {
				val = float64(xv)
			}
			vs[j] = float32(math.Min(math.Max(val, lo), hi))
		}
	}
}

// interval is coordinate x0's feasible robust.LInf interval, [x0-eps, x0+eps]
// intersected with the bounds, as float32 ends whose float64 distance to x0
// is at most eps. Rounding x0+eps to float32 can overshoot by half an ulp;
// the ends step back toward x0 so that every iterate, not only the output,
// is inside the ball. Otherwise an attack would search a ball slightly
// larger than the one its output lies in, and a preprocessor that rounds to
// 8 bits (JPEG, BitDepth) sees a whole grey level of difference at eps =
// k/255 + 1/510.
func (b ball) interval(x0 float32) (lo, hi float32) {
	xv := float64(x0)
	lo = float32(math.Max(xv-b.eps, float64(b.bounds.Min)))
	for math.Abs(float64(lo)-xv) > b.eps {
		lo = math.Nextafter32(lo, x0)
	}
	hi = float32(math.Min(xv+b.eps, float64(b.bounds.Max)))
	for math.Abs(float64(hi)-xv) > b.eps {
		hi = math.Nextafter32(hi, x0)
	}
	return lo, hi
}

// clampNaN clamps f to [lo, hi], mapping NaN to x0.
func clampNaN(f, x0, lo, hi float32) float32 {
	if f != f {
		f = x0
	}
	return min(max(f, lo), hi)
}

// limits returns, for the robust.LInf ball, every coordinate's interval, so that an
// iterate loop computes them once per run and projects with a clamp alone
// (projectLimits); for robust.L2 it returns nil, nil.
func (b ball) limits(x0 []float32) (lo, hi []float32) {
	if b.norm != robust.LInf {
		return nil, nil
	}
	lo, hi = make([]float32, len(x0)), make([]float32, len(x0))
	for j, xv := range x0 {
		lo[j], hi[j] = b.interval(xv)
	}
	return lo, hi
}

// projectLimits is project with the intervals of limits precomputed; all
// slices have equal length. With nil limits (robust.L2) it calls project.
func (b ball) projectLimits(x0, v, lo, hi []float32, d int) {
	if lo == nil {
		b.project(x0, v, d)
		return
	}
	for j, f := range v {
		v[j] = clampNaN(f, x0[j], lo[j], hi[j])
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
	if b.norm == robust.LInf {
		return out // project already leaves every value exactly inside
	}
	for i := 0; i < len(x0)/d; i++ {
		xs, vs := x0[i*d:(i+1)*d], out[i*d:(i+1)*d]
		for try := 0; b.norm.Distance(xs, vs) > b.eps; try++ {
			if try == 8 {
				// Unreachable in practice; the clean point is always feasible.
				copy(vs, xs)
				break
			}
			// Shrink by a relative 2^-20, far above float32 rounding.
			scale := b.eps / b.norm.Distance(xs, vs) * (1 - 1.0/(1<<20))
			for j, xv := range xs {
				vs[j] = float32(float64(xv) + scale*(float64(vs[j])-float64(xv)))
			}
		}
	}
	return out
}
