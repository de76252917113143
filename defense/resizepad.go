package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// DefaultResizePadRatio is the canvas ratio when RandomResizePad.Ratio is
// 0: 331/299, Xie et al.'s 299-pixel ImageNet inputs on a 331-pixel canvas
// (31/28 for MNIST).
const DefaultResizePadRatio = 331.0 / 299.0

// MaxResizePadRatio is the largest RandomResizePad.Ratio.
const MaxResizePadRatio = 4

// RandomResizePad resizes each H x W image to a random r x r' with r
// drawn uniformly from [H, P) where P = round(Ratio*H) is the canvas height
// (r' = r for square images, else round(r*W/H) within [W, P')), places it at
// a uniformly random offset on a P x P' canvas filled with b.Min (black for
// [0, 1] images: Xie et al. pad with zeros), and resizes the canvas back to
// H x W, the model's input size. Both resizes are bilinear with
// half-pixel centres (PyTorch's align_corners=False; Xie et al. used
// nearest neighbour for the first).
//
// Paper: Xie, Wang, Zhang, Ren and Yuille, "Mitigating Adversarial Effects
// Through Randomization", ICLR 2018, https://arxiv.org/abs/1711.01991.
// Broken with EOT by Athalye, Carlini and Wagner (ICML 2018).
//
// For a fixed draw the transformation is affine (every output is a convex
// combination of input values and the fill value), so RandomResizePad is a
// DifferentiablePreprocessor and Backward is exact; the output stays in the
// bounds without clipping.
//
// Cost: about 4(H+W) multiply-adds per value. Randomized: example i's size
// and offset come from a PCG generator seeded by a hash of seed and
// example i's values; all channels of an image share them.
type RandomResizePad struct {
	// Ratio is the canvas side over the image side, in (1,
	// MaxResizePadRatio]; the canvas must be at least one pixel larger than
	// the image. If Ratio is 0, DefaultResizePadRatio is used.
	Ratio float64
}

var _ DifferentiablePreprocessor = RandomResizePad{}

func (p RandomResizePad) ratio() float64 {
	if p.Ratio == 0 {
		return DefaultResizePadRatio
	}
	return p.Ratio
}

// Validate reports a Ratio outside (1, MaxResizePadRatio] (0 means the
// default).
func (p RandomResizePad) Validate() error {
	if p.Ratio != 0 && !(finite(p.Ratio) && p.Ratio > 1 && p.Ratio <= MaxResizePadRatio) {
		return configErr("RandomResizePad.Ratio = %v, want a value in (1, %d] (0 means the default %.4f)", p.Ratio, MaxResizePadRatio, DefaultResizePadRatio)
	}
	return nil
}

// Randomized reports true.
func (RandomResizePad) Randomized() bool { return true }

// canvas returns the canvas size for an h x w image.
func (p RandomResizePad) canvas(h, w int) (ph, pw int, err error) {
	r := p.ratio()
	ph, pw = int(math.Round(r*float64(h))), int(math.Round(r*float64(w)))
	if ph <= h || pw <= w {
		return 0, 0, configErr("RandomResizePad.Ratio = %v leaves no room to pad a %dx%d image (canvas %dx%d)", r, h, w, ph, pw)
	}
	return ph, pw, nil
}

// resizePadMaps returns the H x H and W x W matrices My and Mx of one draw:
// the output image is b.Min + My (x - b.Min) Mx^T for each channel.
func resizePadMaps(rng *rand.Rand, h, w, ph, pw int) (my, mx []float64) {
	rh := h + rng.IntN(ph-h)
	rw := rh
	if h != w {
		rw = min(max(int(math.Round(float64(rh)*float64(w)/float64(h))), w), pw-1)
	}
	top := rng.IntN(ph - rh + 1)
	left := rng.IntN(pw - rw + 1)
	return axisMap(h, rh, ph, top), axisMap(w, rw, pw, left)
}

// axisMap returns the n x n matrix of one axis: resize n -> r, place at
// offset off on a canvas of p (zero elsewhere), resize p -> n.
func axisMap(n, r, p, off int) []float64 {
	up := bilinear(n, r)   // r x n
	down := bilinear(p, n) // n x p
	m := make([]float64, n*n)
	for a := 0; a < n; a++ {
		for k := off; k < off+r; k++ {
			wk := down[a*p+k]
			if wk == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				m[a*n+j] += wk * up[(k-off)*n+j]
			}
		}
	}
	return m
}

// bilinear returns the out x in matrix of 1-D linear interpolation with
// half-pixel centres: output j samples the input at (j + 0.5)*in/out - 0.5,
// clamped to [0, in-1]. Each row sums to 1.
func bilinear(in, out int) []float64 {
	m := make([]float64, out*in)
	scale := float64(in) / float64(out)
	for j := 0; j < out; j++ {
		src := math.Min(math.Max((float64(j)+0.5)*scale-0.5, 0), float64(in-1))
		i0 := int(src)
		i1 := min(i0+1, in-1)
		f := src - float64(i0)
		m[j*in+i0] += 1 - f
		m[j*in+i1] += f
	}
	return m
}

// Apply implements Preprocessor.
func (p RandomResizePad) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64) (*tensor.Dense, error) {
	return p.run(ctx, x, b, seed, nil)
}

// Backward implements DifferentiablePreprocessor: the gradient with
// respect to one channel of x is My^T grad Mx.
func (p RandomResizePad) Backward(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	if grad == nil || !grad.Shape().Eq(x.Shape()) {
		return nil, fmt.Errorf("defense: RandomResizePad.Backward: the gradient must have the input's shape %v: %w", x.Shape(), robust.ErrShape)
	}
	if _, _, err := tensors.Images(grad); err != nil {
		return nil, fmt.Errorf("defense: RandomResizePad.Backward: gradient: %w", err)
	}
	return p.run(ctx, x, b, seed, grad)
}

// run is Apply when grad is nil and Backward otherwise; both draw the same
// maps from the same input.
func (p RandomResizePad) run(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error) {
	const name = "RandomResizePad"
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n, c, h, w, d, err := checkInput(name, x, b)
	if err != nil {
		return nil, err
	}
	ph, pw, err := p.canvas(h, w)
	if err != nil {
		return nil, err
	}
	var g []float32
	if grad != nil {
		g = grad.Data().([]float32)
	}
	size, plane := c*h*w, h*w
	out := make([]float32, len(d))
	tmp := make([]float64, plane)
	lo := float64(b.Min)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("defense: %s: stopped at image %d of %d: %w", name, i+1, n, err)
		}
		my, mx := resizePadMaps(exampleRNG(seed, streamResizePad, d[i*size:(i+1)*size]), h, w, ph, pw)
		for ch := 0; ch < c; ch++ {
			o := i*size + ch*plane
			if g == nil {
				affine(d[o:o+plane], out[o:o+plane], tmp, my, mx, h, w, lo, b)
			} else {
				transpose(g[o:o+plane], out[o:o+plane], tmp, my, mx, h, w)
			}
		}
	}
	return newLike(x, out), nil
}

// affine writes lo + My (v - lo) Mx^T into out, clipped to b against
// rounding.
func affine(v, out []float32, tmp, my, mx []float64, h, w int, lo float64, b robust.Bounds) {
	// tmp = (v - lo) Mx^T, row by row.
	for y := 0; y < h; y++ {
		for a := 0; a < w; a++ {
			s := 0.0
			for j := 0; j < w; j++ {
				s += (float64(v[y*w+j]) - lo) * mx[a*w+j]
			}
			tmp[y*w+a] = s
		}
	}
	for a := 0; a < h; a++ {
		for xx := 0; xx < w; xx++ {
			s := 0.0
			for y := 0; y < h; y++ {
				s += my[a*h+y] * tmp[y*w+xx]
			}
			out[a*w+xx] = clip32(lo+s, b)
		}
	}
}

// transpose writes My^T g Mx into out.
func transpose(g, out []float32, tmp, my, mx []float64, h, w int) {
	// tmp = g Mx.
	for y := 0; y < h; y++ {
		for j := 0; j < w; j++ {
			s := 0.0
			for a := 0; a < w; a++ {
				s += float64(g[y*w+a]) * mx[a*w+j]
			}
			tmp[y*w+j] = s
		}
	}
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			s := 0.0
			for a := 0; a < h; a++ {
				s += my[a*h+y] * tmp[a*w+xx]
			}
			out[y*w+xx] = float32(s)
		}
	}
}
