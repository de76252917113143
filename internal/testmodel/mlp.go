package testmodel

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Shape is the C x H x W shape of one input image.
type Shape struct{ C, H, W int }

// Size is C*H*W.
func (s Shape) Size() int { return s.C * s.H * s.W }

// Config describes an MLP. The zero Bounds means robust.UnitBounds.
type Config struct {
	Shape   Shape
	Hidden  int // hidden ReLU units; 0 makes a linear softmax classifier
	Classes int
	Seed    uint64
	Bounds  robust.Bounds
}

// MLP is z = W2 relu(W1 x + b1) + b2, or z = W2 x + b2 when Hidden is 0,
// with x the flattened image. Weights are float64 so gradients are exact up
// to float64 rounding; inputs and outputs are float32 like a real model's.
type MLP struct {
	shape   Shape
	hidden  int
	classes int
	w1, b1  []float64 // hidden x d, hidden
	w2, b2  []float64 // classes x (hidden or d), classes
	bounds  robust.Bounds
}

var _ robust.Differentiable = (*MLP)(nil)

// New returns an MLP with He-initialised weights drawn from cfg.Seed.
func New(cfg Config) (*MLP, error) {
	s := cfg.Shape
	if s.C < 1 || s.H < 1 || s.W < 1 || cfg.Hidden < 0 || cfg.Classes < 2 {
		return nil, fmt.Errorf("testmodel: bad config shape %v hidden %d classes %d: %w",
			s, cfg.Hidden, cfg.Classes, robust.ErrConfig)
	}
	b := cfg.Bounds
	if b == (robust.Bounds{}) {
		b = robust.UnitBounds
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("testmodel: %w", err)
	}
	m := &MLP{shape: s, hidden: cfg.Hidden, classes: cfg.Classes, bounds: b}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7e57))
	d := s.Size()
	in := d
	if m.hidden > 0 {
		m.w1 = gaussian(rng, m.hidden*d, math.Sqrt(2/float64(d)))
		m.b1 = make([]float64, m.hidden)
		in = m.hidden
	}
	m.w2 = gaussian(rng, m.classes*in, math.Sqrt(2/float64(in)))
	m.b2 = make([]float64, m.classes)
	return m, nil
}

// NewConstant returns a model whose logits are the given values for every
// input, so every objective has an exactly zero input gradient.
func NewConstant(s Shape, logits []float64) (*MLP, error) {
	m, err := New(Config{Shape: s, Classes: len(logits)})
	if err != nil {
		return nil, err
	}
	clear(m.w2)
	copy(m.b2, logits)
	return m, nil
}

func gaussian(rng *rand.Rand, n int, std float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * std
	}
	return v
}

// InputShape is the C x H x W shape the model accepts.
func (m *MLP) InputShape() Shape { return m.shape }

// NumClasses implements robust.Classifier.
func (m *MLP) NumClasses() int { return m.classes }

// Bounds implements robust.Classifier.
func (m *MLP) Bounds() robust.Bounds { return m.bounds }

// Logits implements robust.Classifier.
func (m *MLP) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, xs, err := m.input(ctx, x)
	if err != nil {
		return nil, err
	}
	z := make([]float32, n*m.classes)
	h := make([]float64, m.hidden)
	zi := make([]float64, m.classes)
	d := m.shape.Size()
	for i := 0; i < n; i++ {
		m.forward(widen(xs[i*d:(i+1)*d]), h, zi)
		for j, v := range zi {
			z[i*m.classes+j] = float32(v)
		}
	}
	return tensor.New(tensor.WithShape(n, m.classes), tensor.WithBacking(z)), nil
}

// LossGrad implements robust.Differentiable.
func (m *MLP) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	n, xs, err := m.input(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	if err := obj.Validate(n, m.classes); err != nil {
		return nil, nil, fmt.Errorf("testmodel: %w", err)
	}
	loss, grad := m.lossGrad64(widen(xs), n, obj)
	l32 := make([]float32, n)
	for i, v := range loss {
		l32[i] = float32(v)
	}
	g32 := make([]float32, len(grad))
	for i, v := range grad {
		g32[i] = float32(v)
	}
	s := m.shape
	return l32, tensor.New(tensor.WithShape(n, s.C, s.H, s.W), tensor.WithBacking(g32)), nil
}

func (m *MLP) input(ctx context.Context, x *tensor.Dense) (int, []float32, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	n, xs, err := tensors.Images(x)
	if err != nil {
		return 0, nil, fmt.Errorf("testmodel: %w", err)
	}
	s := x.Shape()
	if s[1] != m.shape.C || s[2] != m.shape.H || s[3] != m.shape.W {
		return 0, nil, fmt.Errorf("testmodel: input shape %v, want N x %d x %d x %d: %w",
			s, m.shape.C, m.shape.H, m.shape.W, robust.ErrShape)
	}
	return n, xs, nil
}

// forward writes the hidden activations (after ReLU) into h and the logits
// into z for one flattened example x.
func (m *MLP) forward(x, h, z []float64) {
	in := x
	if m.hidden > 0 {
		d := len(x)
		for u := range h {
			h[u] = max(0, m.b1[u]+dot(m.w1[u*d:(u+1)*d], x))
		}
		in = h
	}
	for j := range z {
		z[j] = m.b2[j] + dot(m.w2[j*len(in):(j+1)*len(in)], in)
	}
}

// lossGrad64 returns each example's objective and its gradient with respect
// to the n flattened examples in x, in float64.
func (m *MLP) lossGrad64(x []float64, n int, obj robust.Objective) (loss, grad []float64) {
	d, k := m.shape.Size(), m.classes
	z := make([]float64, n*k)
	hs := make([]float64, n*m.hidden)
	for i := 0; i < n; i++ {
		m.forward(x[i*d:(i+1)*d], hs[i*m.hidden:(i+1)*m.hidden], z[i*k:(i+1)*k])
	}
	loss = make([]float64, n)
	dz := make([]float64, n*k)
	obj.Eval(z, n, k, loss, dz)
	grad = make([]float64, n*d)
	for i := 0; i < n; i++ {
		m.backward(dz[i*k:(i+1)*k], hs[i*m.hidden:(i+1)*m.hidden], grad[i*d:(i+1)*d])
	}
	return loss, grad
}

// backward accumulates d(objective)/dx of one example into gx from its
// logit gradient dz and its post-ReLU hidden activations h.
func (m *MLP) backward(dz, h, gx []float64) {
	d := len(gx)
	if m.hidden == 0 {
		for j, g := range dz {
			axpy(g, m.w2[j*d:(j+1)*d], gx)
		}
		return
	}
	dh := make([]float64, m.hidden)
	for j, g := range dz {
		axpy(g, m.w2[j*m.hidden:(j+1)*m.hidden], dh)
	}
	for u, g := range dh {
		// A unit at exactly zero is treated as inactive, the usual ReLU
		// subgradient choice.
		if h[u] > 0 {
			axpy(g, m.w1[u*d:(u+1)*d], gx)
		}
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpy adds a*x to y.
func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
