package defense

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// GaussianNoise adds independent N(0, Sigma^2) noise to every value and
// clips the result to the bounds.
//
// Papers: random noise as a defense is evaluated (and broken with EOT) by
// Athalye, Carlini and Wagner, "Obfuscated Gradients Give a False Sense of
// Security", ICML 2018, https://arxiv.org/abs/1802.00420; with a certificate
// it is randomized smoothing (Cohen, Rosenfeld and Kolter 2019), which lives
// in the subpackage smoothing. Protect passes gradients through it
// unchanged (the derivative of x + noise, with the clipping treated by
// BPDA) and averages them over EOTSamples draws.
//
// Cost: one normal draw per value. Randomized: the noise of example i is
// drawn from a PCG generator seeded by a hash of seed and example i's values.
type GaussianNoise struct {
	// Sigma is the standard deviation in the bounds' units, finite and
	// > 0. It has no default: it must be set.
	Sigma float64
}

var _ Preprocessor = GaussianNoise{}

// Validate reports a Sigma that is not finite and > 0.
func (p GaussianNoise) Validate() error {
	if !finite(p.Sigma) || p.Sigma <= 0 {
		return configErr("GaussianNoise.Sigma = %v, want a finite value > 0 (no default)", p.Sigma)
	}
	return nil
}

// Randomized reports true.
func (GaussianNoise) Randomized() bool { return true }

// Apply implements Preprocessor.
func (p GaussianNoise) Apply(ctx context.Context, x *tensor.Dense, b robust.Bounds, seed uint64) (*tensor.Dense, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	n, _, _, _, d, err := checkInput("GaussianNoise", x, b)
	if err != nil {
		return nil, err
	}
	size := len(d) / n
	out := make([]float32, len(d))
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("defense: GaussianNoise: stopped at image %d of %d: %w", i+1, n, err)
		}
		ex := d[i*size : (i+1)*size]
		rng := exampleRNG(seed, streamNoise, ex)
		for j, v := range ex {
			out[i*size+j] = clip32(float64(v)+p.Sigma*rng.NormFloat64(), b)
		}
	}
	return newLike(x, out), nil
}
