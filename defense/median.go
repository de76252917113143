package defense

import (
	"context"
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Median filter sizes.
const (
	// DefaultMedianSize is the window when Median.Size is 0: 2 x 2, Xu et
	// al.'s setting for MNIST and CIFAR-10.
	DefaultMedianSize = 2
	// MaxMedianSize is the largest window.
	MaxMedianSize = 15
)

// Median replaces every value by the median of the Size x Size window
// around it, in each channel separately. The window and the borders are
// those of scipy.ndimage.median_filter, which the paper used: the window
// covers offsets -Size/2 to (Size-1)/2 (so a 2 x 2 window is the pixel and
// its upper and left neighbours), the image is extended by reflection
// about its edges (d c b a | a b c d | d c b a), and an even window takes
// the upper of its two middle values.
//
// Paper: Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial
// Examples in Deep Neural Networks", NDSS 2018,
// https://arxiv.org/abs/1704.01155 ("local smoothing"). Protect
// differentiates it with BPDA.
//
// Cost: a sort of Size^2 values per value. Deterministic: seed is ignored.
type Median struct {
	// Size is the window's side, in [2, MaxMedianSize] and at most the
	// image's height and width. If Size is 0, DefaultMedianSize is used.
	Size int
}

var _ Preprocessor = Median{}

func (p Median) size() int {
	if p.Size == 0 {
		return DefaultMedianSize
	}
	return p.Size
}

// Validate reports a Size outside [2, MaxMedianSize] (0 means the default).
func (p Median) Validate() error {
	if p.Size < 0 || p.Size == 1 || p.Size > MaxMedianSize {
		return configErr("Median.Size = %d, want a value in [2, %d] (0 means the default %d)", p.Size, MaxMedianSize, DefaultMedianSize)
	}
	return nil
}

// Randomized reports false: Median is deterministic.
func (Median) Randomized() bool { return false }

// reflect maps an index outside [0, n) back inside by reflection about the
// edges, scipy's "reflect" mode; |i| < 2n.
func reflect(i, n int) int {
	if i < 0 {
		return -i - 1
	}
	if i >= n {
		return 2*n - i - 1
	}
	return i
}

// Apply implements Preprocessor.
func (p Median) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, _ uint64) (*tensor.Dense, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n, c, h, w, d, err := checkInput("Median", x, b)
	if err != nil {
		return nil, err
	}
	s := p.size()
	if s > h || s > w {
		return nil, fmt.Errorf("defense: Median: window %d larger than the %dx%d image: %w", s, h, w, robust.ErrShape)
	}
	lo := -s / 2
	out := make([]float32, len(d))
	win := make([]float32, s*s)
	for pl := 0; pl < n*c; pl++ {
		if pl%c == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("defense: Median: stopped at image %d of %d: %w", pl/c+1, n, err)
			}
		}
		in, o := d[pl*h*w:(pl+1)*h*w], out[pl*h*w:(pl+1)*h*w]
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				k := 0
				for dy := 0; dy < s; dy++ {
					row := reflect(y+lo+dy, h) * w
					for dx := 0; dx < s; dx++ {
						win[k] = in[row+reflect(xx+lo+dx, w)]
						k++
					}
				}
				slices.Sort(win)
				o[y*w+xx] = win[len(win)/2]
			}
		}
	}
	return newLike(x, out), nil
}
