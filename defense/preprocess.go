package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/tensors"
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

// stageErr places the error of stage j of a chain:
// "defense: Chain[1]: JPEG.Quality = 101, want ...: robust: invalid configuration".
func stageErr(j int, err error) error {
	return &placed{where: fmt.Sprintf("Chain[%d]: ", j), err: err}
}

// placed is an error of this package prefixed, after "defense: ", with
// where it happened.
type placed struct {
	where string
	err   error
}

func (e *placed) Error() string {
	return "defense: " + e.where + strings.TrimPrefix(e.err.Error(), "defense: ")
}

func (e *placed) Unwrap() error { return e.err }

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
	n, d, err = tensors.CheckImages(x, b)
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

// exampleRNG returns the generator of one example of a randomized
// preprocessor; stream keeps different preprocessors' draws apart.
func exampleRNG(seed, stream uint64, example []float32) *rand.Rand {
	return rand.New(rand.NewPCG(mix.Values(seed, example), stream))
}

// Streams of the randomized preprocessors, so that two of them given the
// same seed do not draw the same numbers.
const (
	streamNoise = iota + 1
	streamResizePad
)
