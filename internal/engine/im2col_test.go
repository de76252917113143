package engine

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU is the CPU time of the calling OS thread: on a machine shared
// with other jobs it measures a single-threaded kernel far more steadily
// than wall time. Callers lock the goroutine to its thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuLoop runs f b.N times and reports the thread CPU time per call.
func cpuLoop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
}

// naiveIm2col is im2col by definition, for checking the fast loops.
func naiveIm2col(g convGeom, x []float64) []float64 {
	col := make([]float64, g.kdim*g.columns)
	for c := 0; c < g.cin; c++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				for img := 0; img < g.n; img++ {
					for oy := 0; oy < g.oh; oy++ {
						for ox := 0; ox < g.ow; ox++ {
							iy, ix := oy*g.s-g.pad+ky, ox*g.s-g.pad+kx
							v := 0.0
							if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
								v = x[((img*g.cin+c)*g.h+iy)*g.w+ix]
							}
							col[((img*g.oh+oy)*g.ow+ox)*g.kdim+(c*g.k+ky)*g.k+kx] = v
						}
					}
				}
			}
		}
	}
	return col
}

// convGeoms covers strides 1 to 3, paddings 0 to 2, kernels larger than
// the stride and not, and outputs that leave input rows unused.
func convGeoms() []convGeom {
	return []convGeom{
		newConvGeom(2, 3, 9, 9, 4, 3, 2, 1),
		newConvGeom(3, 2, 7, 8, 2, 2, 1, 0),
		newConvGeom(1, 1, 5, 5, 1, 1, 1, 0),
		newConvGeom(2, 2, 10, 9, 3, 4, 2, 1),
		newConvGeom(2, 2, 11, 7, 3, 3, 3, 2),
		newConvGeom(1, 3, 6, 6, 2, 5, 1, 2),
		newConvGeom(2, 1, 28, 28, 16, 4, 2, 1),
	}
}

func TestIm2colAndCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, g := range convGeoms() {
		x := make([]float64, g.n*g.cin*g.h*g.w)
		for i := range x {
			x[i] = rng.Float64()
		}
		want := naiveIm2col(g, x)
		got := make([]float64, len(want))
		for i := range got {
			got[i] = -1 // every entry must be written
		}
		im2col(g, x, got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: im2col[%d] = %v, want %v", g, i, got[i], want[i])
			}
		}
		// col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>.
		c := make([]float64, len(want))
		for i := range c {
			c[i] = rng.Float64()
		}
		dx := make([]float64, len(x))
		col2im(g, c, dx)
		var lhs, rhs float64
		for i := range c {
			lhs += want[i] * c[i]
		}
		for i := range x {
			rhs += x[i] * dx[i]
		}
		if d := lhs - rhs; d > 1e-9*lhs || d < -1e-9*lhs {
			t.Fatalf("%+v: col2im is not the adjoint of im2col: %v != %v", g, lhs, rhs)
		}
	}
}

func TestIm2colNHWC(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, g := range convGeoms() {
		g.inNHWC = true
		x := make([]float64, g.n*g.cin*g.h*g.w)
		for i := range x {
			x[i] = rng.Float64()
		}
		want := naiveIm2col(g, x) // x read as NCHW, columns (c, ky, kx)
		nhwc := make([]float64, len(x))
		for n := 0; n < g.n; n++ {
			for c := 0; c < g.cin; c++ {
				for p := 0; p < g.h*g.w; p++ {
					nhwc[(n*g.h*g.w+p)*g.cin+c] = x[(n*g.cin+c)*g.h*g.w+p]
				}
			}
		}
		got := make([]float64, len(want))
		for i := range got {
			got[i] = -1
		}
		im2col(g, nhwc, got)
		for l := 0; l < g.columns; l++ {
			for c := 0; c < g.cin; c++ {
				for kk := 0; kk < g.k*g.k; kk++ {
					if a, b := got[l*g.kdim+kk*g.cin+c], want[l*g.kdim+c*g.k*g.k+kk]; a != b {
						t.Fatalf("%+v: im2col row %d (c %d, tap %d) = %v, want %v", g, l, c, kk, a, b)
					}
				}
			}
		}
		c := make([]float64, len(got))
		for i := range c {
			c[i] = rng.Float64()
		}
		dx := make([]float64, len(x))
		col2im(g, c, dx)
		var lhs, rhs float64
		for i := range c {
			lhs += got[i] * c[i]
		}
		for i := range x {
			rhs += nhwc[i] * dx[i]
		}
		if d := lhs - rhs; d > 1e-9*lhs || d < -1e-9*lhs {
			t.Fatalf("%+v: NHWC col2im is not the adjoint of im2col: %v != %v", g, lhs, rhs)
		}
	}
}

func BenchmarkIm2col(b *testing.B) {
	nhwc := newConvGeom(64, 16, 14, 14, 32, 4, 2, 1)
	nhwc.inNHWC = true
	for _, g := range []convGeom{newConvGeom(64, 1, 28, 28, 16, 4, 2, 1), newConvGeom(64, 16, 14, 14, 32, 4, 2, 1), nhwc} {
		x := make([]float32, g.n*g.cin*g.h*g.w)
		col := make([]float32, g.kdim*g.columns)
		b.Run("im2col", func(b *testing.B) {
			cpuLoop(b, func() { im2col(g, x, col) })
			b.ReportMetric(float64(len(col))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
		})
		b.Run("col2im", func(b *testing.B) {
			cpuLoop(b, func() { col2im(g, col, x) })
			b.ReportMetric(float64(len(col))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
		})
	}
}
