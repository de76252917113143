package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/engine"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Options configure New. A nil *Options means the defaults.
type Options struct {
	// Seed seeds the weight initialisation; 0 is a seed like any other, so
	// nil options are reproducible too. Models built from the same Spec and
	// Seed are bit-identical.
	Seed uint64
	// Float64 computes in float64 instead of float32: slower, for gradient
	// checks and numerical studies. The robust interfaces still take and
	// return float32 tensors.
	Float64 bool
	// Workers is the number of replicas a batch is split across. If 0,
	// runtime.GOMAXPROCS(0) is used. Results do not depend on it except for
	// the rounding of parameter gradients, which are summed over workers; fix
	// it for bit-reproducible training across machines.
	Workers int
	// MaxMACs bounds the multiply-adds of one example's forward pass (a
	// gradient costs about twice as many more). A Spec that needs more is
	// refused with ErrTooLarge before anything is allocated; New, Load and
	// Import all check it. If 0, DefaultMaxMACs is used.
	MaxMACs int64
	// MaxExampleBytes bounds the memory one example needs while a gradient
	// is computed: every layer's output and input gradient and the
	// convolution scratch (receptive fields), at the model's precision. A
	// batch needs about this times its rows, up to 128 rows per worker at
	// a time. A Spec that needs more is refused with ErrTooLarge. If 0,
	// DefaultMaxExampleBytes is used.
	MaxExampleBytes int64
}

// Default cost limits of Options. They admit the architectures of the
// robust-training literature on 32 x 32 inputs (a WideResNet-28-10 needs
// about 5.2 G multiply-adds per example) and refuse a Spec that would take
// minutes or gigabytes for one image.
const (
	// DefaultMaxMACs is 2^34, about 17 G multiply-adds per example.
	DefaultMaxMACs = 1 << 34
	// DefaultMaxExampleBytes is 512 MiB per example.
	DefaultMaxExampleBytes = 1 << 29
)

// Model is a classifier built from a Spec. It implements
// robust.Differentiable; Logits, LossGrad and TrainStep are safe for
// concurrent use, and Update excludes them while it runs.
type Model struct {
	spec   Spec
	net    *engine.Net
	params []engine.ParamInfo
}

var _ robust.Differentiable = (*Model)(nil)

// New validates spec and builds a model whose weights are drawn as PyTorch
// draws them by default for Conv2d and Linear layers: weights and biases
// uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)] (Kaiming uniform with
// a = sqrt(5)), from a PCG generator seeded with opts.Seed. Zero layer
// fields take their documented defaults (a Conv2D Stride of 0 is 1), which
// the model's Spec then states explicitly.
func New(spec Spec, opts *Options) (*Model, error) {
	return newModel(spec, opts, true)
}

// newModel is New; it leaves the weights zero unless init is set.
func newModel(spec Spec, opts *Options, init bool) (*Model, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.check("Options"); err != nil {
		return nil, err
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	layers, params, cost, err := spec.infer()
	if err != nil {
		return nil, err
	}
	if err := o.checkCost(cost, o.Float64, "Options"); err != nil {
		return nil, err
	}
	dt := tensor.Float32
	if o.Float64 {
		dt = tensor.Float64
	}
	net, err := engine.New(engine.Shape{C: spec.Input[0], H: spec.Input[1], W: spec.Input[2]}, layers, dt, o.Workers)
	if err != nil {
		return nil, errorf(ErrSpec, "%v", err)
	}
	m := &Model{spec: spec.withDefaults(), net: net, params: params}
	if !init {
		return m, nil
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6e6e))
	err = net.Update(func(ws []*tensor.Dense) error {
		for i, w := range ws {
			bound := 1 / math.Sqrt(float64(params[i].FanIn))
			switch d := w.Data().(type) {
			case []float32:
				for j := range d {
					d[j] = float32((2*rng.Float64() - 1) * bound)
				}
			case []float64:
				for j := range d {
					d[j] = (2*rng.Float64() - 1) * bound
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// check rejects invalid options; owner names the struct that holds them.
func (o Options) check(owner string) error {
	if o.Workers < 0 {
		return errorf(robust.ErrConfig, "%s.Workers = %d, want >= 0 (0 means GOMAXPROCS)", owner, o.Workers)
	}
	if o.MaxMACs < 0 {
		return errorf(robust.ErrConfig, "%s.MaxMACs = %d, want >= 0 (0 means DefaultMaxMACs)", owner, o.MaxMACs)
	}
	if o.MaxExampleBytes < 0 {
		return errorf(robust.ErrConfig, "%s.MaxExampleBytes = %d, want >= 0 (0 means DefaultMaxExampleBytes)", owner, o.MaxExampleBytes)
	}
	return nil
}

// checkCost refuses a Spec whose per-example cost exceeds the limits, in
// a model of float64 values when float64s is set.
func (o Options) checkCost(c engine.Cost, float64s bool, owner string) error {
	maxMACs, maxBytes := o.MaxMACs, o.MaxExampleBytes
	if maxMACs == 0 {
		maxMACs = DefaultMaxMACs
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxExampleBytes
	}
	elem := int64(4)
	if float64s {
		elem = 8
	}
	if c.MACs > maxMACs {
		return errorf(ErrTooLarge, "Spec needs %d multiply-adds per example, want at most %s.MaxMACs = %d", c.MACs, owner, maxMACs)
	}
	if b := c.Values * elem; b > maxBytes {
		return errorf(ErrTooLarge, "Spec needs %d bytes per example (%d values of %d bytes), want at most %s.MaxExampleBytes = %d", b, c.Values, elem, owner, maxBytes)
	}
	return nil
}

func cloneSpec(s Spec) Spec {
	out := s
	out.Layers = make([]Layer, len(s.Layers))
	for i, l := range s.Layers {
		if n, ok := l.(Normalize); ok {
			l = Normalize{Mean: append([]float64(nil), n.Mean...), Std: append([]float64(nil), n.Std...)}
		}
		out.Layers[i] = l
	}
	return out
}

// Spec returns a copy of the model's architecture, with every default
// stated (a Conv2D Stride of 0 in the Spec given to New reads 1 here).
func (m *Model) Spec() Spec { return cloneSpec(m.spec) }

// NumClasses is the number of logits.
func (m *Model) NumClasses() int { return m.net.Classes() }

// Bounds is the valid input range of the Spec.
func (m *Model) Bounds() robust.Bounds { return m.spec.bounds() }

// Float64 reports whether the model computes in float64.
func (m *Model) Float64() bool { return m.net.Dtype() == tensor.Float64 }

// input checks x for Logits and TrainStep, as attacks check their inputs
// (shape, finite values, values inside Bounds), and converts it to the
// model's dtype. The returned tensor may share x's backing array; the
// engine copies it before use.
func (m *Model) input(x *tensor.Dense) (int, *tensor.Dense, error) {
	return m.checkInput(x, m.Bounds())
}

// gradInput checks x for LossGrad and LogitsVJP as input does, except that
// it accepts values up to one bounds width outside Bounds. Attacks take
// gradients there: FGSMRS at its random start, which, like Wong et al.'s
// reference implementation, it does not clip (see attack.FGSMRS), and
// attacks reject budgets wider than the bounds. Values beyond that, such
// as 0..255 pixels for a model of [0, 1] ones, are still errors.
func (m *Model) gradInput(x *tensor.Dense) (int, *tensor.Dense, error) {
	b := m.Bounds()
	w := b.Max - b.Min
	return m.checkInput(x, robust.Bounds{Min: b.Min - w, Max: b.Max + w})
}

// checkInput checks that x is a batch of the model's input shape with
// finite values inside in, and converts it to the model's dtype.
func (m *Model) checkInput(x *tensor.Dense, in robust.Bounds) (int, *tensor.Dense, error) {
	n, d, err := tensors.Images(x)
	if err != nil {
		return 0, nil, fmt.Errorf("nn: x: %w", err)
	}
	s := x.Shape()
	if s[1] != m.spec.Input[0] || s[2] != m.spec.Input[1] || s[3] != m.spec.Input[2] {
		return 0, nil, fmt.Errorf("nn: x has shape %v, want N x %d x %d x %d (Spec.Input): %w", s, m.spec.Input[0], m.spec.Input[1], m.spec.Input[2], robust.ErrShape)
	}
	if _, _, err := tensors.CheckImages(x, in); err != nil {
		if b := m.Bounds(); errors.Is(err, robust.ErrBounds) && b == robust.UnitBounds && slices.Min(d) >= 0 && slices.Max(d) <= 255 {
			i := slices.IndexFunc(d, func(v float32) bool { return v < in.Min || v > in.Max })
			return 0, nil, fmt.Errorf("nn: x: input[%d] = %v outside [%v, %v]; pixels in 0..255? divide them by 255, the model's Bounds are [0, 1]: %w", i, d[i], in.Min, in.Max, robust.ErrBounds)
		}
		return 0, nil, fmt.Errorf("nn: x: %w", err)
	}
	if !m.Float64() {
		return n, tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(d)), nil
	}
	d64 := make([]float64, len(d))
	for i, v := range d {
		d64[i] = float64(v)
	}
	return n, tensor.New(tensor.WithShape(s.Clone()...), tensor.WithBacking(d64)), nil
}

// toFloat32 returns t as a float32 tensor (t itself when it already is one).
func toFloat32(t *tensor.Dense) *tensor.Dense {
	if d, ok := t.Data().([]float64); ok {
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return tensor.New(tensor.WithShape(t.Shape().Clone()...), tensor.WithBacking(out))
	}
	return t
}

// Logits returns the N x K float32 logits of x, with dropout off. x must be
// a float32 N x C x H x W tensor matching Spec.Input whose values are finite
// (else the error wraps robust.ErrNonFinite) and inside Bounds (else
// robust.ErrBounds), the same contract attacks enforce: a model trained on
// [0, 1] pixels silently gives meaningless logits for 0..255 ones.
func (m *Model) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	_, xin, err := m.input(x)
	if err != nil {
		return nil, err
	}
	z, err := m.net.Logits(ctx, xin)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	return toFloat32(z), nil
}

// LossGrad returns each example's objective value and the gradient of their
// sum with respect to x, with dropout off. x is checked as by Logits,
// except that values up to one bounds width outside Bounds are accepted:
// attacks take gradients there (attack.FGSMRS at its unclipped random
// start). 0..255 pixels for a model of [0, 1] ones are still rejected.
func (m *Model) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	loss, grad, err := m.lossGrad(ctx, x, obj)
	if err != nil {
		return nil, nil, err
	}
	l32 := make([]float32, len(loss))
	for i, v := range loss {
		l32[i] = float32(v)
	}
	return l32, toFloat32(grad), nil
}

// lossGrad is LossGrad in the model's own precision.
func (m *Model) lossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float64, *tensor.Dense, error) {
	n, xin, err := m.gradInput(x)
	if err != nil {
		return nil, nil, err
	}
	return m.lossGradNative(ctx, xin, n, obj)
}

// lossGradNative takes x already in the model's dtype.
func (m *Model) lossGradNative(ctx context.Context, xin *tensor.Dense, n int, obj robust.Objective) ([]float64, *tensor.Dense, error) {
	k := m.NumClasses()
	if err := obj.Validate(n, k); err != nil {
		return nil, nil, fmt.Errorf("nn: %w", err)
	}
	var ref []float64
	if obj.Kind == robust.KL {
		ref = obj.Reference
	}
	fn := func(row0 int, logits []float64, rows, k int, loss, grad []float64) error {
		sub := robust.Objective{Kind: obj.Kind}
		if obj.Labels != nil {
			sub.Labels = obj.Labels[row0 : row0+rows]
		}
		if obj.Targets != nil {
			sub.Targets = obj.Targets[row0 : row0+rows]
		}
		if ref != nil {
			sub.Reference = ref[row0*k : (row0+rows)*k]
		}
		return sub.Eval(logits, rows, k, loss, grad)
	}
	loss, grad, err := m.net.LossGrad(ctx, xin, fn)
	if err != nil {
		return nil, nil, fmt.Errorf("nn: %w", err)
	}
	return loss, grad, nil
}

var _ robust.LogitsVJPer = (*Model)(nil)

// LogitsVJP implements robust.LogitsVJPer: the gradient with respect to x of
// sum_i <g_i, z_i(x)>, with g holding N x NumClasses() cotangents in
// row-major order, in one backward pass with dropout off. x is checked as
// by LossGrad.
func (m *Model) LogitsVJP(ctx context.Context, x *tensor.Dense, g []float64) (*tensor.Dense, error) {
	n, xin, err := m.gradInput(x)
	if err != nil {
		return nil, err
	}
	k := m.NumClasses()
	if len(g) != n*k {
		return nil, errorf(robust.ErrShape, "LogitsVJP: g has %d cotangents, want %d examples x %d classes", len(g), n, k)
	}
	for i, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errorf(robust.ErrNonFinite, "LogitsVJP: g[%d] = %v, want a finite value", i, v)
		}
	}
	_, grad, err := m.net.LossGrad(ctx, xin, func(row0 int, _ []float64, rows, k int, _, gr []float64) error {
		copy(gr, g[row0*k:(row0+rows)*k])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	return toFloat32(grad), nil
}
