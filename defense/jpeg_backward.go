package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// DefaultJPEGBackwardFloor is the floor of the soft-rounding derivative in
// JPEG's BPDA backward pass when JPEG.BackwardFloor is 0. On the first 200
// MNIST test images at Linf eps 0.1 (reference CNN, PGD with 100 steps of
// 0.01) floors of 0, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5 and 1 (the identity)
// left 41.5, 40.0, 35.0, 28.5, 27.0, 25.5, 33.5 and 46.0% robust.
const DefaultJPEGBackwardFloor = 0.3

// ApproximatedPreprocessor is a Preprocessor without a useful derivative
// (piecewise constant, like JPEG) that offers the backward pass of a
// differentiable approximation. Under BPDA, Protect carries gradients back
// through ApproxBackward instead of the identity; BPDAIdentity ignores it.
type ApproximatedPreprocessor interface {
	Preprocessor
	// ApproxBackward returns grad^T J~, where J~ is the Jacobian at x of
	// the approximation; grad has the shape of x. Neither x nor grad is
	// modified.
	ApproxBackward(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error)
}

var _ ApproximatedPreprocessor = JPEG{}

func (p JPEG) backwardFloor() float64 {
	if p.BackwardFloor == 0 {
		return DefaultJPEGBackwardFloor
	}
	return p.BackwardFloor
}

// ApproxBackward implements ApproximatedPreprocessor for greyscale images
// with the backward pass of a smooth JPEG: per 8 x 8 block (the image
// padded by edge replication, as image/jpeg's encoder pads), DCT, division
// by the quantisation table, soft rounding r(z) = round(z) + (z-round(z))^3
// (Shin and Song, "JPEG-resistant Adversarial Images", 2017), and the
// inverse. Its derivative 3(z-round(z))^2 is floored at BackwardFloor, so
// that coefficients sitting on a quantisation level (all of a blank
// block's) still pass some gradient. The pass weights each DCT coefficient
// of the gradient by how close the coefficient of x is to a rounding
// boundary, which sends an attack's budget to the coefficients that
// quantisation will not erase; the identity spreads it over all of them.
// The 8-bit roundings and the final clipping pass the gradient unchanged.
// Colour images (three channels, with chroma subsampling) use the identity.
func (p JPEG) ApproxBackward(ctx context.Context, x *tensor.Dense, b robust.Bounds, _ uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n, c, h, w, d, err := checkInput("JPEG", x, b)
	if err != nil {
		return nil, err
	}
	if grad == nil || !grad.Shape().Eq(x.Shape()) {
		return nil, fmt.Errorf("defense: JPEG.ApproxBackward: %w: the gradient must have the input's shape %v", robust.ErrShape, x.Shape())
	}
	gs, err := robust.Float64s(grad)
	if err != nil {
		return nil, fmt.Errorf("defense: JPEG.ApproxBackward: %w", err)
	}
	out := make([]float32, len(gs))
	if c != 1 {
		for i, v := range gs {
			out[i] = float32(v)
		}
		return newLike(x, out), nil
	}
	q := jpegLumaTable(p.quality())
	floor := p.backwardFloor()
	size := h * w
	bw, bh := (w+7)/8, (h+7)/8
	var blk, coef, gblk, gcoef [64]float64
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("defense: JPEG.ApproxBackward: stopped at image %d of %d: %w", i+1, n, err)
		}
		xi, gi, oi := d[i*size:(i+1)*size], gs[i*size:(i+1)*size], out[i*size:(i+1)*size]
		acc := make([]float64, size)
		for by := 0; by < bh; by++ {
			for bx := 0; bx < bw; bx++ {
				for r := 0; r < 8; r++ {
					for s := 0; s < 8; s++ {
						yy, xx := by*8+r, bx*8+s
						cy, cx := min(yy, h-1), min(xx, w-1)
						blk[r*8+s] = float64(toLevel(xi[cy*w+cx], b)) - 128
						// The output is cropped: padding gets no gradient.
						gblk[r*8+s] = 0
						if yy < h && xx < w {
							gblk[r*8+s] = gi[yy*w+xx]
						}
					}
				}
				dct8x8(&blk, &coef)
				// The block maps B to C^T Q r(C B C^T / Q) C, so its VJP is
				// C^T (r'(z) .* (C G C^T)) C with z the quantised coefficients.
				dct8x8(&gblk, &gcoef)
				for k := range gcoef {
					z := coef[k] / q[k]
					e := z - math.Round(z)
					gcoef[k] *= math.Max(3*e*e, floor)
				}
				idct8x8(&gcoef, &gblk)
				for r := 0; r < 8; r++ {
					for s := 0; s < 8; s++ {
						cy, cx := min(by*8+r, h-1), min(bx*8+s, w-1)
						acc[cy*w+cx] += gblk[r*8+s]
					}
				}
			}
		}
		for j, v := range acc {
			oi[j] = float32(v)
		}
	}
	return newLike(x, out), nil
}

// jpegLumaBase is the luminance quantisation table of the JPEG standard
// (ITU-T T.81, Annex K, Table K.1) in natural (row-major) order.
var jpegLumaBase = [64]int{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

// jpegLumaTable scales the standard table to a quality as libjpeg and
// image/jpeg do, clamped to baseline's [1, 255].
func jpegLumaTable(quality int) [64]float64 {
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	var t [64]float64
	for k, v := range jpegLumaBase {
		t[k] = float64(min(max((v*scale+50)/100, 1), 255))
	}
	return t
}

// dctBasis[k][n] is the orthonormal DCT-II basis of size 8, and
// dctBasisT its transpose (the inverse transform's basis).
var dctBasis, dctBasisT = func() (c, ct [8][8]float64) {
	for k := 0; k < 8; k++ {
		a := 0.5
		if k == 0 {
			a = math.Sqrt(0.125)
		}
		for n := 0; n < 8; n++ {
			c[k][n] = a * math.Cos(float64((2*n+1)*k)*math.Pi/16)
			ct[n][k] = c[k][n]
		}
	}
	return c, ct
}()

// dct8x8 computes f = C b C^T for one row-major 8 x 8 block.
func dct8x8(b, f *[64]float64) { sandwich8x8(&dctBasis, b, f) }

// idct8x8 computes b = C^T f C, the inverse of dct8x8.
func idct8x8(f, b *[64]float64) { sandwich8x8(&dctBasisT, f, b) }

// sandwich8x8 computes out = m in m^T for row-major 8 x 8 blocks.
func sandwich8x8(m *[8][8]float64, in, out *[64]float64) {
	var t [64]float64
	for k := 0; k < 8; k++ {
		for j := 0; j < 8; j++ {
			s := 0.0
			for n := 0; n < 8; n++ {
				s += m[k][n] * in[n*8+j]
			}
			t[k*8+j] = s
		}
	}
	for k := 0; k < 8; k++ {
		for l := 0; l < 8; l++ {
			s := 0.0
			for j := 0; j < 8; j++ {
				s += t[k*8+j] * m[l][j]
			}
			out[k*8+l] = s
		}
	}
}
