package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// DefaultJPEGBackwardFloor is the floor of the soft-rounding derivative in
// JPEG's BPDA backward pass when JPEG.BackwardFloor is 0: the floor that
// left PGD the least robust accuracy in a sweep over floors from 0 to 1 on
// MNIST (docs/experiments.md).
const DefaultJPEGBackwardFloor = 0.3

// ApproximatedPreprocessor is a Preprocessor without a useful derivative
// (piecewise constant, like JPEG) that offers the backward pass of a
// differentiable approximation. Under BPDA, Protect carries gradients back
// through ApproxBackward instead of the identity.
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

// ApproxBackward implements ApproximatedPreprocessor with the backward pass
// of a smooth JPEG that follows image/jpeg's pipeline step by step, with
// the rounding of each quantised DCT coefficient replaced by the soft
// rounding r(z) = round(z) + (z-round(z))^3 of Shin and Song ("JPEG-resistant
// Adversarial Images", 2017):
//
//   - grey images: per 8 x 8 block (the image padded by edge replication,
//     as the encoder pads), DCT, division by the luminance table, r, and the
//     inverse;
//   - colour images: RGB to YCbCr (JFIF), the luminance as above; each
//     chroma plane averaged over 2 x 2 pixels (4:2:0, padded to whole
//     16 x 16 macroblocks), then per 8 x 8 block DCT, division by the
//     chrominance table, r and the inverse, and upsampled by repetition as
//     the decoder does; then back to RGB.
//
// The derivative of r, 3(z-round(z))^2, is floored at BackwardFloor, so
// that coefficients sitting on a quantisation level (all of a blank
// block's) still pass some gradient. The pass weights each DCT coefficient
// of the gradient by how close the coefficient of x is to a rounding
// boundary, which sends an attack's budget to the coefficients that
// quantisation will not erase; the identity spreads it over all of them.
// The 8-bit roundings and the final clipping pass the gradient unchanged.
// With BackwardFloor 1 a grey pass is the identity, and a colour pass is
// the linear part of the pipeline (its chroma is blurred as JPEG blurs it).
func (p JPEG) ApproxBackward(ctx context.Context, x *tensor.Dense, b robust.Bounds, _ uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	n, c, h, w, d, err := p.input("JPEG.ApproxBackward", x, b)
	if err != nil {
		return nil, err
	}
	if grad == nil || !grad.Shape().Eq(x.Shape()) {
		return nil, fmt.Errorf("defense: JPEG.ApproxBackward: the gradient must have the input's shape %v: %w", x.Shape(), robust.ErrShape)
	}
	gs, err := tensors.Float64s(grad)
	if err != nil {
		return nil, fmt.Errorf("defense: JPEG.ApproxBackward: %w", err)
	}
	out := make([]float32, len(gs))
	s := smoothJPEG{h: h, w: w, luma: jpegTable(&jpegLumaBase, p.quality()), chroma: jpegTable(&jpegChromaBase, p.quality()), floor: p.backwardFloor()}
	size := c * h * w
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("defense: JPEG.ApproxBackward: stopped at image %d of %d: %w", i+1, n, err)
		}
		xi, gi, oi := d[i*size:(i+1)*size], gs[i*size:(i+1)*size], out[i*size:(i+1)*size]
		levels := make([]float64, size)
		for j, v := range xi {
			levels[j] = float64(toLevel(v, b))
		}
		var acc []float64
		if c == 1 {
			acc = s.grey(levels, gi)
		} else {
			acc = s.colour(levels, gi)
		}
		for j, v := range acc {
			oi[j] = float32(v)
		}
	}
	return newLike(x, out), nil
}

// smoothJPEG computes vector-Jacobian products of the smooth JPEG of one
// h x w image, on grey levels (0 to 255).
type smoothJPEG struct {
	h, w         int
	luma, chroma [64]float64
	floor        float64
}

// grey returns g^T J for one grey image.
func (s smoothJPEG) grey(levels, g []float64) []float64 {
	return s.plane(levels, g, s.h, s.w, &s.luma, -128)
}

// plane returns g^T J for one plane of ph x pw values v (shifted by shift
// before the DCT), split into 8 x 8 blocks quantised by q; the plane is
// padded by edge replication and its padding gets no gradient.
func (s smoothJPEG) plane(v, g []float64, ph, pw int, q *[64]float64, shift float64) []float64 {
	acc := make([]float64, ph*pw)
	var blk, gblk [64]float64
	for by := 0; by < (ph+7)/8; by++ {
		for bx := 0; bx < (pw+7)/8; bx++ {
			for r := 0; r < 8; r++ {
				for c := 0; c < 8; c++ {
					yy, xx := by*8+r, bx*8+c
					blk[r*8+c] = v[min(yy, ph-1)*pw+min(xx, pw-1)] + shift
					gblk[r*8+c] = 0
					if yy < ph && xx < pw {
						gblk[r*8+c] = g[yy*pw+xx]
					}
				}
			}
			s.block(&blk, &gblk, q)
			for r := 0; r < 8; r++ {
				for c := 0; c < 8; c++ {
					acc[min(by*8+r, ph-1)*pw+min(bx*8+c, pw-1)] += gblk[r*8+c]
				}
			}
		}
	}
	return acc
}

// block replaces g by its VJP through one block B -> C^T Q r(C B C^T / Q) C:
// C^T (r'(z) .* (C G C^T)) C, with z the quantised coefficients of blk.
func (s smoothJPEG) block(blk, g *[64]float64, q *[64]float64) {
	var coef, gcoef [64]float64
	dct8x8(blk, &coef)
	dct8x8(g, &gcoef)
	for k := range gcoef {
		z := coef[k] / q[k]
		e := z - math.Round(z)
		gcoef[k] *= math.Max(3*e*e, s.floor)
	}
	idct8x8(&gcoef, g)
}

// JFIF's colour transforms: the encoder's RGB to YCbCr (rows Y, Cb, Cr;
// Cb and Cr centred on 0) and the decoder's YCbCr to RGB (libjpeg's
// constants, as ycbcrToRGB uses).
var (
	rgbToYCbCr = [3][3]float64{
		{0.299, 0.587, 0.114},
		{-0.168736, -0.331264, 0.5},
		{0.5, -0.418688, -0.081312},
	}
	ycbcrToRGBMatrix = [3][3]float64{
		{1, 0, 1.402},
		{1, -0.34414, -0.71414},
		{1, 1.772, 0},
	}
)

// colour returns g^T J for one planar RGB image.
func (s smoothJPEG) colour(levels, g []float64) []float64 {
	h, w := s.h, s.w
	n := h * w
	// Forward: the YCbCr planes of the input.
	var ycc, gycc [3][]float64
	for k := range ycc {
		ycc[k], gycc[k] = make([]float64, n), make([]float64, n)
		for j := 0; j < n; j++ {
			for ch := 0; ch < 3; ch++ {
				ycc[k][j] += rgbToYCbCr[k][ch] * levels[ch*n+j]
				// Backward through the decoder's YCbCr to RGB.
				gycc[k][j] += ycbcrToRGBMatrix[ch][k] * g[ch*n+j]
			}
		}
	}
	var acc [3][]float64
	acc[0] = s.plane(ycc[0], gycc[0], h, w, &s.luma, -128)
	// Chroma at half resolution, in whole 8 x 8 blocks (the encoder's 16 x
	// 16 macroblocks): each sample averages 2 x 2 pixels of the
	// edge-padded image, and the decoder repeats it over those pixels.
	lh, lw := 8*((h+15)/16), 8*((w+15)/16)
	for k := 1; k < 3; k++ {
		low, glow := make([]float64, lh*lw), make([]float64, lh*lw)
		for v := 0; v < lh; v++ {
			for u := 0; u < lw; u++ {
				for a := 0; a < 2; a++ {
					for c := 0; c < 2; c++ {
						yy, xx := 2*v+a, 2*u+c
						low[v*lw+u] += ycc[k][min(yy, h-1)*w+min(xx, w-1)] / 4
						if yy < h && xx < w {
							glow[v*lw+u] += gycc[k][yy*w+xx]
						}
					}
				}
			}
		}
		glow = s.plane(low, glow, lh, lw, &s.chroma, 0)
		acc[k] = make([]float64, n)
		for v := 0; v < lh; v++ {
			for u := 0; u < lw; u++ {
				for a := 0; a < 2; a++ {
					for c := 0; c < 2; c++ {
						acc[k][min(2*v+a, h-1)*w+min(2*u+c, w-1)] += glow[v*lw+u] / 4
					}
				}
			}
		}
	}
	out := make([]float64, 3*n)
	for ch := 0; ch < 3; ch++ {
		for j := 0; j < n; j++ {
			for k := 0; k < 3; k++ {
				out[ch*n+j] += rgbToYCbCr[k][ch] * acc[k][j]
			}
		}
	}
	return out
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

// jpegChromaBase is the chrominance quantisation table of the JPEG standard
// (ITU-T T.81, Annex K, Table K.2) in natural order.
var jpegChromaBase = [64]int{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

// jpegTable scales a standard table to a quality as libjpeg and image/jpeg
// do, clamped to baseline's [1, 255].
func jpegTable(base *[64]int, quality int) [64]float64 {
	scale := 200 - 2*quality
	if quality < 50 {
		scale = 5000 / quality
	}
	var t [64]float64
	for k, v := range base {
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
