package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive computes C (+)= op(A)·op(B) in float64 with the textbook loops.
func naive[T float32 | float64](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, acc bool, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			if acc {
				c[i*ldc+j] += s
			} else {
				c[i*ldc+j] = s
			}
		}
	}
}

type shape struct{ m, n, k int }

// testShapes covers empty and one-element products, every remainder of
// the tile sizes, depths across the kc block and the reference CNN's
// shapes.
func testShapes() []shape {
	s := []shape{{0, 5, 3}, {5, 0, 3}, {4, 5, 0}, {1, 1, 1}, {3, 7, 2}, {16, 16, 16}, {32, 3136, 256},
		{64, 100, 1568}, {100, 1568, 64}, {49, 256, 32}, {13, 47, 300}, {97, 33, 513}, {25, 129, 17}, {64, 10, 100}}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 30; i++ {
		s = append(s, shape{1 + rng.IntN(40), 1 + rng.IntN(80), 1 + rng.IntN(40)})
	}
	return s
}

func randSlice[T float32 | float64](rng *rand.Rand, n int) []T {
	d := make([]T, n)
	for i := range d {
		d[i] = T(2*rng.Float64() - 1)
	}
	return d
}

// operands returns A and B for op(A) m x k and op(B) k x n, with row
// strides padded by pad so that the leading dimensions are exercised.
func operands[T float32 | float64](rng *rand.Rand, transA, transB bool, m, n, k, pad int) (a []T, lda int, b []T, ldb int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb = max(ac, 1)+pad, max(bc, 1)+pad
	return randSlice[T](rng, ar*lda+1), lda, randSlice[T](rng, br*ldb+1), ldb
}

func TestSgemmMatchesNaive(t *testing.T) {
	for _, im := range available() {
		t.Run(fmt.Sprintf("%s_%dx%d", im.name, im.mr, im.nr), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			for _, s := range testShapes() {
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					for _, acc := range []bool{false, true} {
						pad := rng.IntN(3)
						a, lda, b, ldb := operands[float32](rng, tr[0], tr[1], s.m, s.n, s.k, pad)
						ldc := max(s.n, 1) + pad
						c := randSlice[float32](rng, s.m*ldc+1)
						want := make([]float64, len(c))
						for i, v := range c {
							want[i] = float64(v)
						}
						naive(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, acc, want, ldc)
						check(tr[0], tr[1], s.m, s.n, s.k, len(a), lda, len(b), ldb, len(c), ldc)
						run(&pool32, im, tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, acc, c, ldc)
						for i := range c {
							// float32 sums of k products of values in
							// [-1, 1]: the error grows like sqrt(k)*eps*|terms|.
							tol := 1e-5 * float64(s.k+2)
							if d := math.Abs(float64(c[i]) - want[i]); d > tol {
								t.Fatalf("%+v trans %v acc %v: c[%d] = %v, want %v", s, tr, acc, i, c[i], want[i])
							}
						}
					}
				}
			}
		})
	}
}

func TestDgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range testShapes() {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, acc := range []bool{false, true} {
				a, lda, b, ldb := operands[float64](rng, tr[0], tr[1], s.m, s.n, s.k, 1)
				ldc := max(s.n, 1) + 1
				c := randSlice[float64](rng, s.m*ldc+1)
				want := append([]float64(nil), c...)
				naive(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, acc, want, ldc)
				Dgemm(tr[0], tr[1], s.m, s.n, s.k, a, lda, b, ldb, acc, c, ldc)
				for i := range c {
					if d := math.Abs(c[i] - want[i]); d > 1e-12*float64(s.k+2) {
						t.Fatalf("%+v trans %v acc %v: c[%d] = %v, want %v", s, tr, acc, i, c[i], want[i])
					}
				}
			}
		}
	}
}

func TestBadArgumentsPanic(t *testing.T) {
	for _, f := range []func(){
		func() {
			Sgemm(false, false, 2, 2, 2, make([]float32, 3), 2, make([]float32, 4), 2, false, make([]float32, 4), 2)
		},
		func() {
			Sgemm(false, false, 2, 2, 2, make([]float32, 4), 1, make([]float32, 4), 2, false, make([]float32, 4), 2)
		},
		func() { Sgemm(false, false, -1, 2, 2, nil, 2, nil, 2, false, nil, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic for bad arguments")
				}
			}()
			f()
		}()
	}
}

func TestSgemmDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, b, c := randSlice[float32](rng, 64*1568), randSlice[float32](rng, 100*1568), make([]float32, 64*100)
	Sgemm(false, true, 64, 100, 1568, a, 1568, b, 1568, false, c, 100)
	if n := testing.AllocsPerRun(10, func() { Sgemm(false, true, 64, 100, 1568, a, 1568, b, 1568, false, c, 100) }); n > 0 {
		t.Errorf("%v allocations per call", n)
	}
}
