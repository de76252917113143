package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// DefaultEOTSamples is the number of random draws LossGrad averages when
// Options.EOTSamples is 0 and the preprocessing is randomized.
const DefaultEOTSamples = 10

// Options configure Protect. A nil *Options means the defaults.
type Options struct {
	// EOTSamples is the number of random draws of the preprocessing whose
	// gradients and losses LossGrad averages when the preprocessing is
	// randomized; deterministic preprocessing needs one. If EOTSamples is
	// 0, DefaultEOTSamples (10) is used.
	EOTSamples int
	// PredictSamples is the number of random draws whose softmax
	// probabilities Logits averages when the preprocessing is randomized.
	// If PredictSamples is 0 or 1, Logits draws once, as a deployed
	// randomized defense does.
	PredictSamples int
	// Seed seeds every random draw. Every seed, including 0, is a fixed
	// seed.
	Seed uint64
}

// Streams of the draws, so that the predictions an attack is scored on
// never reuse the draws its gradients saw.
const (
	streamPredict = iota + 1
	streamGradient
)

// Protected is a model behind input preprocessing, made by Protect. It
// implements robust.Differentiable, so it can be attacked and evaluated
// like any model. It is read-only after Protect returns and safe for
// concurrent use when the model is.
type Protected struct {
	model  robust.Classifier
	chain  Chain
	random bool
	opts   Options
}

var _ robust.Differentiable = (*Protected)(nil)

// Protect returns model behind the preprocessors, applied in order.
//
// Logits(x) is the model's logits on the preprocessed x. When the
// preprocessing is randomized and PredictSamples > 1, it is instead the
// logarithm of the mean of the model's softmax probabilities over
// PredictSamples draws (valid logits: their softmax is that mean).
//
// LossGrad(x, obj) is the honest gradient of Athalye, Carlini and Wagner
// ("Obfuscated Gradients Give a False Sense of Security", ICML 2018,
// https://arxiv.org/abs/1802.00420): the loss is the mean over EOTSamples
// draws t_s of obj at the model's logits on t_s(x) (Expectation over
// Transformation, Athalye et al., ICML 2018,
// https://arxiv.org/abs/1707.07397), and the gradient is the mean over the
// same draws of the model's gradient at t_s(x) carried back through each
// stage: by its exact backward pass where it has one
// (DifferentiablePreprocessor), by the backward pass of a differentiable
// approximation where it offers one (ApproximatedPreprocessor: JPEG), and
// by the identity where it has neither (Backward Pass Differentiable
// Approximation, BPDA; see Chain). No other gradient is offered: the naive
// ones overstate robustness (see the package documentation). LossGrad
// needs a model that implements robust.Differentiable and otherwise
// returns an error wrapping robust.ErrNoGradient.
//
// Randomness: draw s of a call uses seed hash(opts.Seed, purpose, s), the
// purpose being prediction or gradient, and each randomized stage seeds
// example i from that seed and the values of its own input for example i
// (a hash of seed and its values). So every output is a function of (opts.Seed, x) alone:
// Protected is deterministic whatever the call order, the batch
// composition or the number of goroutines; a changed input draws fresh
// randomness, so an attack's successive iterates see independent draws, as
// EOT needs; and the draws of Logits are independent of those LossGrad
// averaged over.
//
// Cost per call: one preprocessing pass and one model call per draw.
func Protect(model robust.Classifier, opts *Options, ps ...Preprocessor) (*Protected, error) {
	if model == nil {
		return nil, configErr("Protect: model = nil, want a model")
	}
	if err := model.Bounds().Validate(); err != nil {
		return nil, fmt.Errorf("defense: Protect: model: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.EOTSamples < 0 {
		return nil, configErr("Options.EOTSamples = %d, want >= 0 (0 means %d)", o.EOTSamples, DefaultEOTSamples)
	}
	if o.PredictSamples < 0 {
		return nil, configErr("Options.PredictSamples = %d, want >= 0 (0 means 1)", o.PredictSamples)
	}
	if o.EOTSamples == 0 {
		o.EOTSamples = DefaultEOTSamples
	}
	if o.PredictSamples == 0 {
		o.PredictSamples = 1
	}
	c := Chain(append([]Preprocessor(nil), ps...))
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Protected{model: model, chain: c, random: c.Randomized(), opts: o}, nil
}

// NumClasses implements robust.Classifier.
func (p *Protected) NumClasses() int { return p.model.NumClasses() }

// Bounds implements robust.Classifier: the model's bounds.
func (p *Protected) Bounds() robust.Bounds { return p.model.Bounds() }

// Randomized reports whether the preprocessing is randomized.
func (p *Protected) Randomized() bool { return p.random }

// Preprocess returns the preprocessed x that the s-th prediction draw of
// Logits feeds the model (s = 0 for a single draw).
func (p *Protected) Preprocess(ctx context.Context, x *tensor.Dense, s int) (*tensor.Dense, error) {
	return p.chain.Apply(ctx, x, p.Bounds(), mix.Hash(p.opts.Seed, streamPredict, uint64(s)))
}

// Logits implements robust.Classifier.
func (p *Protected) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	draws := 1
	if p.random {
		draws = p.opts.PredictSamples
	}
	if draws == 1 {
		t, err := p.Preprocess(ctx, x, 0)
		if err != nil {
			return nil, err
		}
		return p.model.Logits(ctx, t)
	}
	var sum []float64 // running sum of probabilities
	n, k := 0, p.NumClasses()
	for s := 0; s < draws; s++ {
		t, err := p.Preprocess(ctx, x, s)
		if err != nil {
			return nil, err
		}
		z, err := p.model.Logits(ctx, t)
		if err != nil {
			return nil, err
		}
		zs, err := logitRows(z, k)
		if err != nil {
			return nil, fmt.Errorf("defense: Protected.Logits: %w", err)
		}
		if sum == nil {
			n = len(zs) / k
			sum = make([]float64, n*k)
		}
		for i := 0; i < n; i++ {
			softmax.Accumulate(zs[i*k:(i+1)*k], sum[i*k:(i+1)*k])
		}
	}
	out := make([]float32, n*k)
	for j, v := range sum {
		// The floor keeps a class whose probability underflowed in every
		// draw finite.
		out[j] = float32(math.Log(math.Max(v/float64(draws), 1e-300)))
	}
	return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(out)), nil
}

// LossGrad implements robust.Differentiable.
func (p *Protected) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	m, ok := p.model.(robust.Differentiable)
	if !ok {
		return nil, nil, fmt.Errorf("defense: Protected.LossGrad: %w", robust.ErrNoGradient)
	}
	n, _, err := tensors.CheckImages(x, p.Bounds())
	if err != nil {
		return nil, nil, fmt.Errorf("defense: Protected.LossGrad: %w", err)
	}
	if err := obj.Validate(n, p.NumClasses()); err != nil {
		return nil, nil, fmt.Errorf("defense: Protected.LossGrad: %w", err)
	}
	draws := 1
	if p.random {
		draws = p.opts.EOTSamples
	}
	var loss, grad []float64
	for s := 0; s < draws; s++ {
		seed := mix.Hash(p.opts.Seed, streamGradient, uint64(s))
		xs, err := p.chain.forward(ctx, x, p.Bounds(), seed)
		if err != nil {
			return nil, nil, err
		}
		l, g, err := m.LossGrad(ctx, xs[len(xs)-1], obj)
		if err != nil {
			return nil, nil, err
		}
		if g, err = p.chain.backward(ctx, xs, p.Bounds(), seed, g); err != nil {
			return nil, nil, err
		}
		gd, err := tensors.Float64s(g)
		if err != nil || len(gd) != x.Shape().TotalSize() || len(l) != n {
			return nil, nil, fmt.Errorf("defense: Protected.LossGrad: model returned %d losses and gradient shape %v for %d inputs of shape %v: %w", len(l), g.Shape(), n, x.Shape(), robust.ErrShape)
		}
		if loss == nil {
			loss, grad = make([]float64, n), make([]float64, len(gd))
		}
		for i, v := range l {
			loss[i] += float64(v)
		}
		for j, v := range gd {
			grad[j] += v
		}
	}
	l32, g32 := make([]float32, n), make([]float32, len(grad))
	for i, v := range loss {
		l32[i] = float32(v / float64(draws))
	}
	for j, v := range grad {
		g32[j] = float32(v / float64(draws))
	}
	return l32, newLike(x, g32), nil
}

// logitRows checks that z is an N x k tensor and returns its values.
func logitRows(z *tensor.Dense, k int) ([]float64, error) {
	if s := z.Shape(); len(s) != 2 || s[1] != k {
		return nil, fmt.Errorf("logits shape %v, want N x %d: %w", s, k, robust.ErrShape)
	}
	return tensors.Float64s(z)
}
