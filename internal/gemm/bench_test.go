package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// refShapes are the products of one training step of the reference CNN
// on a 64-image half batch (one replica): forward, weight gradient and
// input gradient of each layer, as the engine lays them out (receptive
// fields L x K, weights Cout x K, dense weights cached transposed).
var refShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"conv1_fwd", false, true, 12544, 16, 16},
	{"conv1_dW", true, false, 16, 16, 12544},
	{"conv1_dX", false, false, 12544, 16, 16},
	{"conv2_fwd", false, true, 3136, 32, 256},
	{"conv2_dW", true, false, 32, 256, 3136},
	{"conv2_dX", false, false, 3136, 256, 32},
	{"fc1_fwd", false, false, 64, 100, 1568},
	{"fc1_dX", false, false, 64, 1568, 100},
	{"fc1_dW", true, false, 100, 1568, 64},
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range refShapes {
		for _, im := range available() {
			b.Run(fmt.Sprintf("%s/%s_%dx%d", s.name, im.name, im.mr, im.nr), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				a, lda, bm, ldb := operands[float32](rng, s.transA, s.transB, s.m, s.n, s.k, 0)
				c := make([]float32, s.m*s.n)
				for b.Loop() {
					run(&pool32, im, s.transA, s.transB, s.m, s.n, s.k, a, lda, bm, ldb, false, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
