package eval_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/robust/zoo"
)

// standardMNIST returns the undefended reference CNN and the MNIST test set.
func standardMNIST(t testing.TB) (*nn.Model, *data.Dataset) {
	t.Helper()
	m, err := zoo.MNISTStandard()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	return m, ds
}

// pgd is a suite attack: LInf PGD with few steps, to keep tests fast.
func pgd(steps int) eval.SuiteAttack {
	return eval.SuiteAttack{Name: "PGD", New: func(e float64) robust.Attack {
		return attack.PGD{Eps: e, Steps: steps}
	}}
}

// square is a suite attack: Square with a small query budget.
func square(queries int) eval.SuiteAttack {
	return eval.SuiteAttack{Name: "Square", BlackBox: true, New: func(e float64) robust.Attack {
		return attack.Square{Eps: e, MaxQueries: queries}
	}}
}

// flag returns the named sanity flag of r.
func flag(t *testing.T, r *eval.Report, name string) eval.Flag {
	t.Helper()
	for _, f := range r.Sanity {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no sanity flag %q", name)
	return eval.Flag{}
}

// softmaxModel outputs probabilities instead of logits: the mistake the
// probability-output flag catches. It offers no gradients.
type softmaxModel struct{ robust.Classifier }

var _ robust.Classifier = softmaxModel{}

func (m softmaxModel) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	z, err := m.Classifier.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	v, err := tensors.Float64s(z)
	if err != nil {
		return nil, err
	}
	k := m.NumClasses()
	out := make([]float32, len(v))
	for i := 0; i < len(v); i += k {
		row, hi := v[i:i+k], math.Inf(-1)
		for _, u := range row {
			hi = math.Max(hi, u)
		}
		s := 0.0
		for _, u := range row {
			s += math.Exp(u - hi)
		}
		for j, u := range row {
			out[i+j] = float32(math.Exp(u-hi) / s)
		}
	}
	return tensor.New(tensor.WithShape(z.Shape()...), tensor.WithBacking(out)), nil
}

// noisyModel adds Gaussian noise to the logits, like a randomized defense
// that samples a transformation on every call.
type noisyModel struct {
	robust.Differentiable
	mu  sync.Mutex
	rng *rand.Rand
}

var _ robust.Differentiable = (*noisyModel)(nil)

func (m *noisyModel) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	z, err := m.Differentiable.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	v := append([]float32(nil), z.Data().([]float32)...)
	m.mu.Lock()
	for i := range v {
		v[i] += float32(0.5 * m.rng.NormFloat64())
	}
	m.mu.Unlock()
	return tensor.New(tensor.WithShape(z.Shape()...), tensor.WithBacking(v)), nil
}

// gradFault replaces a model's input gradients: by zeros (shattered
// gradients) or by NaN (a numerically broken defense).
type gradFault struct {
	robust.Differentiable
	value float32
}

var _ robust.Differentiable = gradFault{}

func (m gradFault) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	loss, g, err := m.Differentiable.LossGrad(ctx, x, obj)
	if err != nil {
		return nil, nil, err
	}
	v := make([]float32, g.Shape().TotalSize())
	for i := range v {
		v[i] = m.value
	}
	return loss, tensor.New(tensor.WithShape(g.Shape()...), tensor.WithBacking(v)), nil
}

// quantized rounds its input to levels+1 grey levels before the model, as
// bit-depth reduction does, and reports the exact derivative of that: zero
// almost everywhere. Gradient attacks then see nothing, while a black-box
// attack that only queries the model works as well as ever: gradient
// masking, which BPDA would undo.
type quantized struct {
	robust.Differentiable
	levels float32
}

var _ robust.Differentiable = quantized{}

func (m quantized) squeeze(x *tensor.Dense) *tensor.Dense {
	v := append([]float32(nil), x.Data().([]float32)...)
	for i, u := range v {
		v[i] = float32(math.Round(float64(u*m.levels))) / m.levels
	}
	return tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(v))
}

func (m quantized) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	return m.Differentiable.Logits(ctx, m.squeeze(x))
}

func (m quantized) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	loss, g, err := m.Differentiable.LossGrad(ctx, m.squeeze(x), obj)
	if err != nil {
		return nil, nil, err
	}
	return loss, tensor.New(tensor.WithShape(g.Shape()...), tensor.WithBacking(make([]float32, g.Shape().TotalSize()))), nil
}

// tensorDataset serves a fixed batch as a robust.Dataset.
type tensorDataset struct {
	x *tensor.Dense
	y []int
}

func (d tensorDataset) Len() int { return len(d.y) }

func (d tensorDataset) Batch(idx []int) (*tensor.Dense, []int, error) {
	s := d.x.Shape()
	per := s[1] * s[2] * s[3]
	all := d.x.Data().([]float32)
	x := make([]float32, 0, len(idx)*per)
	y := make([]int, 0, len(idx))
	for _, i := range idx {
		x = append(x, all[i*per:(i+1)*per]...)
		y = append(y, d.y[i])
	}
	return tensor.New(tensor.WithShape(len(idx), s[1], s[2], s[3]), tensor.WithBacking(x)), y, nil
}
