package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVectorKernels checks the assembly element-wise kernels against the
// scalar definitions on every length up to a few vectors (tails included)
// and on the values a ReLU gate must treat exactly: +0, -0, NaN.
func TestVectorKernels(t *testing.T) {
	saved := vec
	defer func() { vec = saved }()
	for _, set := range vectorSets() {
		vec = set
		checkVectorKernels(t)
	}
}

func checkVectorKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -1, 1, 1e-40}
	for n := 0; n < 70; n++ {
		a, b, y := randSlice[float32](rng, n), randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i := range y {
			if i%3 == 0 {
				y[i] = special[i%len(special)]
			}
		}
		sum := append([]float32(nil), a...)
		AddTo(sum, b)
		gated := make([]float32, n)
		ReLUGate(gated, a, y)
		for i := range a {
			if sum[i] != a[i]+b[i] {
				t.Fatalf("AddTo n=%d: [%d] = %v, want %v", n, i, sum[i], a[i]+b[i])
			}
			want := float32(0)
			if y[i] > 0 {
				want = a[i]
			}
			if gated[i] != want {
				t.Fatalf("ReLUGate n=%d: [%d] = %v for y %v, want %v", n, i, gated[i], y[i], want)
			}
		}
	}
	for _, cols := range []int{1, 7, 8, 16, 32, 100} {
		for _, relu := range []bool{false, true} {
			rows := 3
			y, bias := randSlice[float32](rng, rows*cols), randSlice[float32](rng, cols)
			got := append([]float32(nil), y...)
			BiasAct(got, bias, relu)
			for i, v := range y {
				want := v + bias[i%cols]
				if relu {
					want = max(want, 0)
				}
				if got[i] != want {
					t.Fatalf("BiasAct cols=%d relu=%v: [%d] = %v, want %v", cols, relu, i, got[i], want)
				}
			}
		}
	}
}
