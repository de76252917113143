package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Preprocessor transforms a batch of images before a model sees it. The
// preprocessors of this package are config structs; their zero fields take
// documented defaults, and a value is read-only during Apply, so one value
// may be shared by many goroutines.
type Preprocessor interface {
	// Apply returns the preprocessed batch: a new float32 tensor with the
	// shape of x whose values lie in b. x must be a float32 N x C x H x W
	// tensor with finite values in b; it is never modified. A randomized
	// preprocessor draws example i's randomness from a generator seeded with
	// seed and the values of example i, so an output is a function of
	// (seed, input) alone: it does not depend on the rest of the batch, on
	// the position in it, or on earlier calls. A deterministic preprocessor
	// ignores seed.
	Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64) (*tensor.Dense, error)
	// Randomized reports whether Apply's output depends on seed.
	Randomized() bool
	// Validate reports whether the parameters are usable. Apply calls it.
	Validate() error
}

// DifferentiablePreprocessor is a Preprocessor whose transformation, for a
// fixed seed, is differentiable almost everywhere and which provides its
// exact backward pass. Protect uses Backward for such stages and the
// identity (BPDA) for every other one.
type DifferentiablePreprocessor interface {
	Preprocessor
	// Backward returns the vector-Jacobian product grad^T J, where J is the
	// Jacobian of Apply(ctx, x, b, seed) at x and grad has the shape of x.
	// Neither x nor grad is modified.
	Backward(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64, grad *tensor.Dense) (*tensor.Dense, error)
}

// configErr reports an invalid parameter, wrapping robust.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("defense: "+format+": %w", append(args, robust.ErrConfig)...)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkInput validates the arguments every Apply shares and returns the
// batch size, the per-image layout and the input values (not a copy).
func checkInput(name string, x *tensor.Dense, b robust.Bounds) (n, c, h, w int, d []float32, err error) {
	if err := b.Validate(); err != nil {
		return 0, 0, 0, 0, nil, fmt.Errorf("defense: %s: %w", name, err)
	}
	n, d, err = robust.CheckImages(x, b)
	if err != nil {
		return 0, 0, 0, 0, nil, fmt.Errorf("defense: %s: %w", name, err)
	}
	s := x.Shape()
	return n, s[1], s[2], s[3], d, nil
}

// newLike returns a float32 tensor of x's shape backed by v.
func newLike(x *tensor.Dense, v []float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(v))
}

// clip32 rounds v to float32 inside b.
func clip32(v float64, b robust.Bounds) float32 {
	return float32(math.Min(math.Max(v, float64(b.Min)), float64(b.Max)))
}

// mix hashes its arguments into one well-spread 64-bit value (the
// SplitMix64 finaliser applied after each word).
func mix(words ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, w := range words {
		h = splitmix(h ^ w)
	}
	return h
}

func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ExampleSeed is the seed of one example's generator in a randomized
// preprocessor: a hash of seed and the bits of the example's values, so
// that equal inputs under equal seeds always draw the same randomness and
// any change to an input draws fresh randomness.
func ExampleSeed(seed uint64, example []float32) uint64 {
	h := splitmix(seed ^ 0x5be0cd19137e2179)
	for i := 0; i+1 < len(example); i += 2 {
		h = splitmix(h ^ (uint64(math.Float32bits(example[i])) | uint64(math.Float32bits(example[i+1]))<<32))
	}
	if len(example)%2 == 1 {
		h = splitmix(h ^ uint64(math.Float32bits(example[len(example)-1])))
	}
	return splitmix(h ^ uint64(len(example)))
}

// exampleRNG returns the generator of one example of a randomized
// preprocessor; stream keeps different preprocessors' draws apart.
func exampleRNG(seed, stream uint64, example []float32) *rand.Rand {
	return rand.New(rand.NewPCG(ExampleSeed(seed, example), stream))
}

// Streams of the randomized preprocessors, so that two of them given the
// same seed do not draw the same numbers.
const (
	streamNoise = iota + 1
	streamResizePad
)
