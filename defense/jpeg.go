package defense

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// DefaultJPEGQuality is the quality when JPEG.Quality is 0: 75, the default
// of image/jpeg and of libjpeg's cjpeg, and the setting of Guo et al.
const DefaultJPEGQuality = jpeg.DefaultQuality

// JPEG recompresses every image: it maps the bounds to grey levels 0 to
// 255, encodes the image as a baseline JPEG at Quality with image/jpeg,
// decodes it and maps it back. One-channel images are encoded as
// greyscale JPEGs, three-channel images as YCbCr with 4:2:0 chroma
// subsampling (what cjpeg writes by default); other channel counts are
// errors wrapping robust.ErrShape.
//
// Papers: Dziugaite, Ghahramani and Roy, "A study of the effect of JPG
// compression on adversarial images", 2016, https://arxiv.org/abs/1608.00853;
// Das et al., "Keeping the Bad Guys Out: Protecting and Vaccinating Deep
// Learning with JPEG Compression", 2017, https://arxiv.org/abs/1705.02900;
// Guo, Rana, Cisse and van der Maaten, "Countering Adversarial Images using
// Input Transformations", ICLR 2018, https://arxiv.org/abs/1711.00117.
// Athalye et al. (ICML 2018) break it with BPDA, which is how Protect
// differentiates it: the JPEG round trip is piecewise constant, so its exact
// gradient is zero almost everywhere. The backward pass is that of a smooth
// JPEG (ApproxBackward), which finds far more adversarial examples at small
// budgets than the identity (the package documentation has the figures).
//
// Agreement with libjpeg (testdata/jpeg holds the golden files and the
// script that made them with libjpeg-turbo 2.1.5): the quantisation tables
// equal those of `cjpeg -baseline -quality Q` at every quality from 10 to
// 95 (without -baseline, cjpeg writes 16-bit tables below quality 24, which
// a baseline encoder cannot); decoding libjpeg's files gives grey images
// within one grey level of `djpeg -dct int`, and colour images within one
// level in luminance and two in RGB of `djpeg -dct int -nosmooth` (the
// colour conversion is libjpeg's; image/jpeg replicates chroma samples
// instead of interpolating them, and one level of IDCT difference in a
// chroma sample moves blue by 1.772). The whole round trip on MNIST
// images agrees with cjpeg then djpeg -dct int in 98.7% of the samples
// and within two levels in all.
//
// Cost: one encode and one decode per image, about 0.3 ms per 28 x 28
// image (BenchmarkPreprocessors). Deterministic: seed is ignored. The quantisation to 256 grey levels
// is part of the defense.
type JPEG struct {
	// Quality is the libjpeg quality factor, in [1, 100]. If Quality is 0,
	// DefaultJPEGQuality (75) is used.
	Quality int
	// BackwardFloor is the floor, in (0, 1], of the soft-rounding
	// derivative in the BPDA backward pass (see ApproxBackward); 1 makes
	// a grey pass the identity. If 0, DefaultJPEGBackwardFloor is used. It
	// changes only how the defense is attacked, never its output.
	BackwardFloor float64
}

var _ Preprocessor = JPEG{}

func (p JPEG) quality() int {
	if p.Quality == 0 {
		return DefaultJPEGQuality
	}
	return p.Quality
}

// Validate reports a Quality outside [1, 100] or a BackwardFloor outside
// (0, 1] (0 means the default for both).
func (p JPEG) Validate() error {
	if p.Quality < 0 || p.Quality > 100 {
		return configErr("JPEG.Quality = %d, want a value in [1, 100] (0 means the default %d)", p.Quality, DefaultJPEGQuality)
	}
	if !(p.BackwardFloor >= 0 && p.BackwardFloor <= 1) {
		return configErr("JPEG.BackwardFloor = %v, want a value in (0, 1] (0 means the default %v)", p.BackwardFloor, DefaultJPEGBackwardFloor)
	}
	return nil
}

// Randomized reports false: JPEG is deterministic.
func (JPEG) Randomized() bool { return false }

// Apply implements Preprocessor.
func (p JPEG) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, _ uint64) (*tensor.Dense, error) {
	n, c, h, w, d, err := p.input("JPEG", x, b)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(d))
	size := c * h * w
	var buf bytes.Buffer
	opts := &jpeg.Options{Quality: p.quality()}
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("defense: JPEG: stopped at image %d of %d: %w", i+1, n, err)
		}
		buf.Reset()
		if err := jpeg.Encode(&buf, toImage(d[i*size:(i+1)*size], c, h, w, b), opts); err != nil {
			return nil, fmt.Errorf("defense: JPEG: encoding image %d: %w", i, err)
		}
		img, err := jpeg.Decode(&buf)
		if err != nil {
			return nil, fmt.Errorf("defense: JPEG: decoding image %d: %w", i, err)
		}
		if err := fromImage(img, out[i*size:(i+1)*size], c, h, w, b); err != nil {
			return nil, fmt.Errorf("defense: JPEG: image %d: %w", i, err)
		}
	}
	return newLike(x, out), nil
}

// input validates p and a batch of grey or RGB images for the method name.
func (p JPEG) input(name string, x *tensor.Dense, b robust.Bounds) (n, c, h, w int, d []float32, err error) {
	if err = p.Validate(); err != nil {
		return
	}
	if n, c, h, w, d, err = checkInput(name, x, b); err != nil {
		return
	}
	if c != 1 && c != 3 {
		err = fmt.Errorf("defense: %s: x has %d channels, want 1 (grey) or 3 (RGB): %w", name, c, robust.ErrShape)
	}
	return
}

// toLevel maps v in b to a grey level, rounding to nearest.
func toLevel(v float32, b robust.Bounds) uint8 {
	l := math.Round(float64(v-b.Min) / float64(b.Width()) * 255)
	return uint8(math.Min(math.Max(l, 0), 255))
}

// fromLevel maps a grey level back into b.
func fromLevel(l uint8, b robust.Bounds) float32 {
	return clip32(float64(b.Min)+float64(l)/255*float64(b.Width()), b)
}

// toImage converts one C x H x W image to an *image.Gray (C = 1) or an
// opaque *image.RGBA (C = 3).
func toImage(v []float32, c, h, w int, b robust.Bounds) image.Image {
	r := image.Rect(0, 0, w, h)
	if c == 1 {
		g := image.NewGray(r)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g.Pix[y*g.Stride+x] = toLevel(v[y*w+x], b)
			}
		}
		return g
	}
	m := image.NewRGBA(r)
	plane := h * w
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := y*m.Stride + 4*x
			for ch := 0; ch < 3; ch++ {
				m.Pix[o+ch] = toLevel(v[ch*plane+y*w+x], b)
			}
			m.Pix[o+3] = 255
		}
	}
	return m
}

// fromImage writes a decoded image into one C x H x W image.
func fromImage(img image.Image, out []float32, c, h, w int, b robust.Bounds) error {
	if img.Bounds() != image.Rect(0, 0, w, h) {
		return fmt.Errorf("decoded bounds %v, want %dx%d", img.Bounds(), w, h)
	}
	plane := h * w
	switch m := img.(type) {
	case *image.Gray:
		if c != 1 {
			return fmt.Errorf("decoded a grey image for %d channels", c)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[y*w+x] = fromLevel(m.Pix[y*m.Stride+x], b)
			}
		}
	case *image.YCbCr:
		if c != 3 {
			return fmt.Errorf("decoded a colour image for %d channels", c)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				rr, gg, bb := ycbcrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				out[y*w+x] = fromLevel(rr, b)
				out[plane+y*w+x] = fromLevel(gg, b)
				out[2*plane+y*w+x] = fromLevel(bb, b)
			}
		}
	default:
		return fmt.Errorf("decoded an unexpected %T", img)
	}
	return nil
}

// ycbcrToRGB converts a JFIF YCbCr sample to RGB exactly as libjpeg's
// jdcolor.c does (16-bit fixed point, each chroma term rounded to nearest);
// color.YCbCrToRGB rounds differently and is often one level lower.
func ycbcrToRGB(y, cb, cr uint8) (r, g, b uint8) {
	const (
		scale = 16
		half  = 1 << (scale - 1)
		crR   = 91881  // FIX(1.40200)
		cbB   = 116130 // FIX(1.77200)
		crG   = 46802  // FIX(0.71414)
		cbG   = 22554  // FIX(0.34414)
	)
	cb1, cr1 := int32(cb)-128, int32(cr)-128
	yy := int32(y)
	r = clamp8(yy + (crR*cr1+half)>>scale)
	g = clamp8(yy + (-cbG*cb1-crG*cr1+half)>>scale)
	b = clamp8(yy + (cbB*cb1+half)>>scale)
	return r, g, b
}

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}
