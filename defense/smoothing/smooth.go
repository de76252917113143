package smoothing

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Defaults of Options and of the Monte Carlo procedure (Cohen et al.'s
// settings).
const (
	// DefaultBatch is the number of noisy copies per base classifier call
	// when Options.Batch is 0.
	DefaultBatch = 1000
	// Paper settings, for reference: n0 = 100 selection samples, n =
	// 100,000 estimation samples and alpha = 0.001.
	PaperN0    = 100
	PaperN     = 100000
	PaperAlpha = 0.001
)

// Abstain is the class of an example the smoothed classifier declines to
// label or certify.
const Abstain = defense.Abstain

// Streams keep the selection and estimation samples of an example
// independent, as the procedure requires.
const (
	streamSelect = iota + 1
	streamEstimate
	streamPredict
)

// Options configure New. A nil *Options means the defaults.
type Options struct {
	// Batch is the number of noisy copies per base classifier call. If
	// Batch is 0, DefaultBatch is used. Results do not depend on it.
	Batch int
	// Seed seeds the noise. Every seed, including 0, is a fixed seed.
	Seed uint64
}

// Smoothed is the smoothed classifier g(x) = argmax_c P(f(x + e) = c),
// e ~ N(0, sigma^2 I), of a base classifier f, made by New. It is
// read-only and safe for concurrent use when the base classifier is.
type Smoothed struct {
	base  robust.Classifier
	sigma float64
	batch int
	seed  uint64
}

// New returns the smoothing of base with noise level sigma (finite, > 0,
// in the units of base.Bounds()).
func New(base robust.Classifier, sigma float64, opts *Options) (*Smoothed, error) {
	if base == nil {
		return nil, fmt.Errorf("smoothing: nil base classifier: %w", robust.ErrConfig)
	}
	if math.IsNaN(sigma) || math.IsInf(sigma, 0) || sigma <= 0 {
		return nil, fmt.Errorf("smoothing: sigma = %v, want a finite value > 0: %w", sigma, robust.ErrConfig)
	}
	if err := base.Bounds().Validate(); err != nil {
		return nil, fmt.Errorf("smoothing: base classifier: %w", err)
	}
	if k := base.NumClasses(); k < 2 {
		return nil, fmt.Errorf("smoothing: base classifier has %d classes, want at least 2: %w", k, robust.ErrConfig)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Batch < 0 {
		return nil, fmt.Errorf("smoothing: Options.Batch = %d, want >= 0: %w", o.Batch, robust.ErrConfig)
	}
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	return &Smoothed{base: base, sigma: sigma, batch: o.Batch, seed: o.Seed}, nil
}

// Sigma is the noise level.
func (s *Smoothed) Sigma() float64 { return s.sigma }

// Certificate is the result of Certify for one example.
type Certificate struct {
	// Class is the smoothed classifier's class, or Abstain.
	Class int
	// Radius is the certified L2 radius: the smoothed classifier returns
	// Class for every input within Radius of x, with probability at least
	// 1 - alpha over the sampling. 0 when abstaining.
	Radius float64
	// PLower is the lower confidence bound on P(f(x + e) = Class).
	PLower float64
	// Count is the number of the n estimation samples classified as
	// Class (as selected by the n0 selection samples).
	Count int
}

// Certify runs CERTIFY of Cohen, Rosenfeld and Kolter, "Certified
// Adversarial Robustness via Randomized Smoothing", ICML 2019,
// https://arxiv.org/abs/1902.02918, on every example of x: it guesses the
// top class cA from n0 noisy copies, counts how many of n fresh copies the
// base classifier puts in cA, takes the one-sided (1 - alpha)
// Clopper-Pearson lower bound pA on P(f(x + e) = cA), and returns cA with
// radius sigma * Phi^-1(pA) when pA > 1/2, and Abstain otherwise. With
// probability at least 1 - alpha, a returned class is the smoothed
// classifier's on the whole L2 ball of that radius.
//
// Noisy copies are clipped to the base classifier's Bounds, so the base
// classifier is in effect f(clip(.)); the theorem holds for any base
// classifier, so clipping leaves the certificate valid (the paper does not
// clip). Example i's noise comes from a generator seeded by the seed, the
// phase (selection or estimation) and a hash of its values.
//
// Cost: n0 + n base classifier evaluations per example, in batches of
// Options.Batch. ctx is checked before every batch.
func (s *Smoothed) Certify(ctx context.Context, x *tensor.Dense, n0, n int, alpha float64) ([]Certificate, error) {
	if n0 < 1 || n < 1 {
		return nil, fmt.Errorf("smoothing: Certify: n0 = %d and n = %d, want >= 1: %w", n0, n, robust.ErrConfig)
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("smoothing: Certify: alpha = %v, want a value in (0, 1): %w", alpha, robust.ErrConfig)
	}
	exs, err := s.examples(x)
	if err != nil {
		return nil, err
	}
	out := make([]Certificate, len(exs))
	for i, ex := range exs {
		c0, err := s.counts(ctx, x, ex, n0, streamSelect)
		if err != nil {
			return nil, err
		}
		cA := argmax(c0)
		c, err := s.counts(ctx, x, ex, n, streamEstimate)
		if err != nil {
			return nil, err
		}
		pA, err := LowerConfidenceBound(c[cA], n, alpha)
		if err != nil {
			return nil, err // Certify checked n and alpha; counts are in [0, n]
		}
		out[i] = Certificate{Class: Abstain, PLower: pA, Count: c[cA]}
		if pA > 0.5 {
			out[i].Class, out[i].Radius = cA, radius(s.sigma, pA)
		}
	}
	return out, nil
}

// Predict runs PREDICT of Cohen et al. on every example of x: it counts the
// base classifier's classes on n noisy copies and returns the top class cA
// if the two-sided binomial test of its count against the runner-up's
// rejects equality at level alpha, and Abstain otherwise. With probability
// at least 1 - alpha, a returned class is the smoothed classifier's.
// Sampling is as in Certify, from an independent stream. Cost: n base
// classifier evaluations per example.
func (s *Smoothed) Predict(ctx context.Context, x *tensor.Dense, n int, alpha float64) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("smoothing: Predict: n = %d, want >= 1: %w", n, robust.ErrConfig)
	}
	if !(alpha > 0 && alpha < 1) {
		return nil, fmt.Errorf("smoothing: Predict: alpha = %v, want a value in (0, 1): %w", alpha, robust.ErrConfig)
	}
	exs, err := s.examples(x)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(exs))
	for i, ex := range exs {
		c, err := s.counts(ctx, x, ex, n, streamPredict)
		if err != nil {
			return nil, err
		}
		a := argmax(c)
		b := -1
		for j := range c {
			if j != a && (b < 0 || c[j] > c[b]) {
				b = j
			}
		}
		out[i] = Abstain
		if binomialPValue(c[a], c[a]+c[b]) <= alpha {
			out[i] = a
		}
	}
	return out, nil
}

// examples checks x and returns its examples' values (not copies).
func (s *Smoothed) examples(x *tensor.Dense) ([][]float32, error) {
	n, d, err := tensors.CheckImages(x, s.base.Bounds())
	if err != nil {
		return nil, fmt.Errorf("smoothing: %w", err)
	}
	size := len(d) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = d[i*size : (i+1)*size]
	}
	return out, nil
}

// counts classifies num noisy copies of one example and returns how many
// fell in each class.
func (s *Smoothed) counts(ctx context.Context, x *tensor.Dense, ex []float32, num int, stream uint64) ([]int, error) {
	k := s.base.NumClasses()
	b := s.base.Bounds()
	lo, hi := float64(b.Min), float64(b.Max)
	rng := rand.New(rand.NewPCG(mix.Values(s.seed, ex), stream))
	shape := x.Shape().Clone()
	counts := make([]int, k)
	for done := 0; done < num; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("smoothing: stopped after %d of %d samples: %w", done, num, err)
		}
		m := min(s.batch, num-done)
		buf := make([]float32, m*len(ex))
		for r := 0; r < m; r++ {
			row := buf[r*len(ex) : (r+1)*len(ex)]
			for j, v := range ex {
				row[j] = float32(math.Min(math.Max(float64(v)+s.sigma*rng.NormFloat64(), lo), hi))
			}
		}
		shape[0] = m
		z, err := s.base.Logits(ctx, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf)))
		if err != nil {
			return nil, err
		}
		if zs := z.Shape(); len(zs) != 2 || zs[0] != m || zs[1] != k {
			return nil, fmt.Errorf("smoothing: %w: base classifier returned logits of shape %v for %d inputs and %d classes", robust.ErrShape, zs, m, k)
		}
		pred, err := tensors.Argmax(z)
		if err != nil {
			return nil, err
		}
		for _, p := range pred {
			counts[p]++
		}
		done += m
	}
	return counts, nil
}

// argmax returns the index of the largest count, ties to the lowest.
func argmax(c []int) int {
	best := 0
	for j, v := range c {
		if v > c[best] {
			best = j
		}
	}
	return best
}

// CertifiedAccuracy returns the fraction of examples whose certificate has
// the true label and a radius of at least r: the certified accuracy at
// radius r. Abstentions and wrong classes count as not certified.
func CertifiedAccuracy(certs []Certificate, labels []int, r float64) (float64, error) {
	if len(certs) != len(labels) || len(certs) == 0 {
		return 0, fmt.Errorf("smoothing: CertifiedAccuracy: %d certificates and %d labels: %w", len(certs), len(labels), robust.ErrLabel)
	}
	c := 0
	for i, cert := range certs {
		if cert.Class == labels[i] && cert.Radius >= r {
			c++
		}
	}
	return float64(c) / float64(len(certs)), nil
}
