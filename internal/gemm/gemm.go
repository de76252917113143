package gemm

import (
	"fmt"
	"sync"
	"unsafe"
)

// Blocking sizes of the driver, in elements. A kc x nr panel of B and an
// mc x kc block of A stay in the L1 and L2 caches while the micro-kernel
// sweeps them; nc bounds the packed B block.
const (
	kc = 256
	mc = 96 // a multiple of every kernel's MR
	nc = 4096
)

// kernelFunc computes one mr x nr tile:
// C[i][j] (+)= sum_p a[p*lda+i] * b[p*ldb+j] for p < k, k >= 1.
type kernelFunc[T float32 | float64] func(k int, a *T, lda int, b *T, ldb int, c *T, ldc int, acc int)

// impl is a micro-kernel with its tile size. kern reads A(i, p) at
// a[p*lda+i] (packed panels, transposed A); rows reads it at a[i*lda+p]
// (A in place).
type impl[T float32 | float64] struct {
	name   string
	mr, nr int
	kern   kernelFunc[T]
	rows   kernelFunc[T]
	// narrow, if set, serves products with at most narrow.nr columns.
	narrow *impl[T]
}

// workspace holds packing buffers; pools keep them across calls.
type workspace[T float32 | float64] struct {
	a, b, c []T
}

var (
	pool32 sync.Pool
	pool64 sync.Pool
)

func getWorkspace[T float32 | float64](p *sync.Pool, im *impl[T]) *workspace[T] {
	ws, _ := p.Get().(*workspace[T])
	if ws == nil {
		ws = new(workspace[T])
	}
	if len(ws.c) < im.mr*im.nr {
		ws.c = make([]T, im.mr*im.nr)
	}
	return ws
}

// grow returns (*s)[:n], reallocating when it is too short.
func grow[T float32 | float64](s *[]T, n int) []T {
	if len(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// Sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when accumulate is
// set, where op(A) is A (m x k, row stride lda) or, when transA, the
// transpose of A (A is then k x m), and likewise for B (k x n or n x k).
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, accumulate bool, c []float32, ldc int) {
	check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	run(&pool32, sgemmImpl, transA, transB, m, n, k, a, lda, b, ldb, accumulate, c, ldc)
}

// Dgemm is Sgemm for float64, on the portable kernel.
func Dgemm(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, accumulate bool, c []float64, ldc int) {
	check(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	run(&pool64, &dgemmGo, transA, transB, m, n, k, a, lda, b, ldb, accumulate, c, ldc)
}

// Kernel names the float32 micro-kernel in use, e.g. "AVX512 8x32".
func Kernel() string { return fmt.Sprintf("%s %dx%d", sgemmImpl.name, sgemmImpl.mr, sgemmImpl.nr) }

// need is the length a row-major rows x cols matrix with row stride ld
// occupies.
func need(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func check(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size %d x %d x %d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	switch {
	case lda < max(ac, 1) || la < need(ar, ac, lda):
		panic(fmt.Sprintf("gemm: A is %d x %d with stride %d in %d values", ar, ac, lda, la))
	case ldb < max(bc, 1) || lb < need(br, bc, ldb):
		panic(fmt.Sprintf("gemm: B is %d x %d with stride %d in %d values", br, bc, ldb, lb))
	case ldc < max(n, 1) || lc < need(m, n, ldc):
		panic(fmt.Sprintf("gemm: C is %d x %d with stride %d in %d values", m, n, ldc, lc))
	}
}

func run[T float32 | float64](p *sync.Pool, im *impl[T], transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, acc bool, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if im.narrow != nil && n <= im.narrow.nr {
		im = im.narrow
	}
	ws := getWorkspace(p, im)
	defer p.Put(ws)
	mr, nr := im.mr, im.nr
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			accum := 0
			if acc || pc > 0 {
				accum = 1
			}
			// B panels are read in place when their rows are contiguous
			// and full; otherwise (transposed B, the last partial panel)
			// packed, zero-padded to nr columns.
			inPlaceB := !transB
			if !inPlaceB {
				packB(grow(&ws.b, (nb+nr-1)/nr*nr*kb), b, ldb, transB, pc, jc, kb, nb, nr)
			} else if nb%nr != 0 {
				j := nb / nr * nr
				packB(grow(&ws.b, nr*kb), b, ldb, transB, pc, jc+j, kb, nb-j, nr)
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				// A is read in place, by steps when transposed or by
				// rows; only a last partial block of rows is packed.
				if mb%mr != 0 {
					i := mb / mr * mr
					packA(grow(&ws.a, mr*kb), a, lda, transA, ic+i, pc, mb-i, kb, mr)
				}
				for jr := 0; jr < nb; jr += nr {
					nrr := min(nr, nb-jr)
					var bp *T
					bstride := nr
					switch {
					case inPlaceB && nrr == nr:
						bp, bstride = &b[pc*ldb+jc+jr], ldb
					case inPlaceB:
						bp = &ws.b[0] // the packed partial panel
					default:
						bp = &ws.b[jr*kb]
					}
					for ir := 0; ir < mb; ir += mr {
						mrr := min(mr, mb-ir)
						var kern kernelFunc[T]
						var ap *T
						var astride int
						if mrr < mr {
							kern, ap, astride = im.kern, &ws.a[0], mr // the packed partial block
						} else if transA {
							kern, ap, astride = im.kern, &a[pc*lda+ic+ir], lda
						} else {
							kern, ap, astride = im.rows, &a[(ic+ir)*lda+pc], lda
						}
						ci := (ic+ir)*ldc + jc + jr
						if mrr == mr && nrr == nr {
							kern(kb, ap, astride, bp, bstride, &c[ci], ldc, accum)
							continue
						}
						kern(kb, ap, astride, bp, bstride, &ws.c[0], nr, 0)
						for i := 0; i < mrr; i++ {
							dst := c[ci+i*ldc : ci+i*ldc+nrr]
							src := ws.c[i*nr : i*nr+nrr]
							if accum != 0 {
								for j, v := range src {
									dst[j] += v
								}
							} else {
								copy(dst, src)
							}
						}
					}
				}
			}
		}
	}
}

// packA writes rows [i0, i0+rows) and columns [p0, p0+depth) of op(A) as
// panels of mr rows: panel q holds, for each step p, the mr values
// op(A)[i0+q*mr+i][p0+p], zero past the last row.
func packA[T float32 | float64](dst, a []T, lda int, trans bool, i0, p0, rows, depth, mr int) {
	for q := 0; q < rows; q += mr {
		panel := dst[q*depth : (q+mr)*depth]
		h := min(mr, rows-q)
		if trans {
			for p := 0; p < depth; p++ {
				d := panel[p*mr : p*mr+mr]
				copy(d, a[(p0+p)*lda+i0+q:(p0+p)*lda+i0+q+h])
				clear(d[h:])
			}
			continue
		}
		if h < mr {
			clear(panel)
		}
		for i := 0; i < h; i++ {
			row := a[(i0+q+i)*lda+p0 : (i0+q+i)*lda+p0+depth]
			for p, v := range row {
				panel[p*mr+i] = v
			}
		}
	}
}

// packB writes rows [p0, p0+depth) and columns [j0, j0+cols) of op(B) as
// panels of nr columns: panel q holds, for each step p, the nr values
// op(B)[p0+p][j0+q*nr+j], zero past the last column.
func packB[T float32 | float64](dst, b []T, ldb int, trans bool, p0, j0, depth, cols, nr int) {
	for q := 0; q < cols; q += nr {
		panel := dst[q*depth : (q+nr)*depth]
		w := min(nr, cols-q)
		if !trans {
			for p := 0; p < depth; p++ {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j0+q:(p0+p)*ldb+j0+q+w])
				clear(d[w:])
			}
			continue
		}
		for p := 0; p < depth; p++ {
			clear(panel[p*nr+w : p*nr+nr])
		}
		for j := 0; j < w; j++ {
			row := b[(j0+q+j)*ldb+p0 : (j0+q+j)*ldb+p0+depth]
			for p, v := range row {
				panel[p*nr+j] = v
			}
		}
	}
}

// goKernel4x4 is the portable micro-kernel: a 4 x 4 tile in sixteen
// scalar accumulators, A(i, p) at a[p*lda+i].
func goKernel4x4[T float32 | float64](k int, a *T, lda int, b *T, ldb int, c *T, ldc int, acc int) {
	goKernel(k, a, 1, lda, b, ldb, c, ldc, acc)
}

// goKernel4x4Rows is goKernel4x4 with A(i, p) at a[i*lda+p].
func goKernel4x4Rows[T float32 | float64](k int, a *T, lda int, b *T, ldb int, c *T, ldc int, acc int) {
	goKernel(k, a, lda, 1, b, ldb, c, ldc, acc)
}

// goKernel computes a 4 x 4 tile with A(i, p) at a[i*ri+p*rp].
func goKernel[T float32 | float64](k int, a *T, ri, rp int, b *T, ldb int, c *T, ldc int, acc int) {
	as := unsafe.Slice(a, (k-1)*rp+3*ri+1)
	bs := unsafe.Slice(b, (k-1)*ldb+4)
	cs := unsafe.Slice(c, 3*ldc+4)
	a0s, a1s, a2s, a3s := as[:], as[ri:], as[2*ri:], as[3*ri:]
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	for p := 0; p < k; p++ {
		o := p * rp
		bv := bs[p*ldb : p*ldb+4 : p*ldb+4]
		a0, a1, a2, a3 := a0s[o], a1s[o], a2s[o], a3s[o]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	rows := [4][4]T{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range rows {
		d := cs[i*ldc : i*ldc+4 : i*ldc+4]
		if acc != 0 {
			d[0] += rows[i][0]
			d[1] += rows[i][1]
			d[2] += rows[i][2]
			d[3] += rows[i][3]
		} else {
			d[0], d[1], d[2], d[3] = rows[i][0], rows[i][1], rows[i][2], rows[i][3]
		}
	}
}

var (
	sgemmGo = impl[float32]{name: "Go", mr: 4, nr: 4, kern: goKernel4x4[float32], rows: goKernel4x4Rows[float32]}
	dgemmGo = impl[float64]{name: "Go", mr: 4, nr: 4, kern: goKernel4x4[float64], rows: goKernel4x4Rows[float64]}
)
