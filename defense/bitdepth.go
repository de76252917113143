package defense

import (
	"context"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// MaxBitDepth is the largest BitDepth.Bits.
const MaxBitDepth = 16

// BitDepth reduces every value to 2^Bits evenly spaced levels spanning the
// bounds, rounding to the nearest level (half to even, as numpy's rint):
// with bounds [0, 1], x' = rint(x * (2^Bits - 1)) / (2^Bits - 1).
//
// Paper: Xu, Evans and Qi, "Feature Squeezing: Detecting Adversarial
// Examples in Deep Neural Networks", NDSS 2018,
// https://arxiv.org/abs/1704.01155 (1 bit for MNIST, 5 bits for CIFAR-10).
// The squeeze is piecewise constant, so Protect differentiates it with BPDA.
//
// Cost: tens of nanoseconds per value. Deterministic: seed is ignored.
type BitDepth struct {
	// Bits is the number of bits per value, in [1, MaxBitDepth]. It has no
	// default: it must be set.
	Bits int
}

var _ Preprocessor = BitDepth{}

// Validate reports Bits outside [1, MaxBitDepth].
func (p BitDepth) Validate() error {
	if p.Bits < 1 || p.Bits > MaxBitDepth {
		return configErr("BitDepth.Bits = %d, want a value in [1, %d] (no default)", p.Bits, MaxBitDepth)
	}
	return nil
}

// Randomized reports false: BitDepth is deterministic.
func (BitDepth) Randomized() bool { return false }

// Apply implements Preprocessor.
func (p BitDepth) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, _ uint64) (*tensor.Dense, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	_, _, _, _, d, err := checkInput("BitDepth", x, b)
	if err != nil {
		return nil, err
	}
	levels := float64(uint64(1)<<p.Bits - 1)
	lo, width := float64(b.Min), float64(b.Width())
	out := make([]float32, len(d))
	for i, v := range d {
		q := math.RoundToEven((float64(v) - lo) / width * levels)
		out[i] = clip32(lo+q/levels*width, b)
	}
	return newLike(x, out), nil
}
