package testmodel

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// TestLossGradFiniteDifferences checks the exact backpropagation against
// float64 central differences for every objective, on a linear model and an
// MLP, at random points.
func TestLossGradFiniteDifferences(t *testing.T) {
	const (
		n, k = 3, 6
		// Step 1e-6 keeps the stencil away from ReLU kinks and argmax
		// switches at random points while leaving central differences
		// accurate to ~1e-9 on these O(1) functions.
		step = 1e-6
		// tol covers the O(step^2) truncation and the O(1e-16/step)
		// cancellation error, with room to spare.
		tol = 1e-6
	)
	shape := Shape{C: 2, H: 3, W: 3}
	rng := rand.New(rand.NewPCG(11, 12))
	ref := make([]float64, n*k)
	for i := 0; i < n; i++ {
		s := 0.0
		for j := 0; j < k; j++ {
			ref[i*k+j] = rng.Float64() + 0.1
			s += ref[i*k+j]
		}
		for j := 0; j < k; j++ {
			ref[i*k+j] /= s
		}
	}
	labels, targets := []int{0, 3, 5}, []int{2, 1, 4}
	objectives := []robust.Objective{
		{Kind: robust.CrossEntropy, Labels: labels},
		{Kind: robust.TargetedCrossEntropy, Labels: labels, Targets: targets},
		{Kind: robust.Margin, Labels: labels},
		{Kind: robust.TargetedMargin, Labels: labels, Targets: targets},
		{Kind: robust.DLR, Labels: labels},
		{Kind: robust.TargetedDLR, Labels: labels, Targets: targets},
		{Kind: robust.KL, Reference: ref},
	}
	for _, hidden := range []int{0, 8} {
		m, err := New(Config{Shape: shape, Hidden: hidden, Classes: k, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		d := shape.Size()
		x := make([]float64, n*d)
		for i := range x {
			x[i] = rng.Float64()
		}
		for _, obj := range objectives {
			_, grad := m.lossGrad64(x, n, obj)
			for i := 0; i < n; i++ {
				xi := slices.Clone(x)
				f := func(v []float64) float64 {
					copy(xi[i*d:(i+1)*d], v)
					loss, _ := m.lossGrad64(xi, n, obj)
					return loss[i]
				}
				want := fd.Gradient(nil, f, slices.Clone(x[i*d:(i+1)*d]), &fd.Settings{Formula: fd.Central, Step: step})
				for j, w := range want {
					if got := grad[i*d+j]; math.Abs(got-w) > tol {
						t.Errorf("hidden %d %v: grad[%d][%d] = %.9g, finite differences %.9g", hidden, obj.Kind, i, j, got, w)
					}
				}
			}
		}
	}
}

func TestTrainedAccuracy(t *testing.T) {
	m, x, y, err := Trained(200)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := tensors.Argmax(logits)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i, p := range pred {
		if p == y[i] {
			correct++
		}
	}
	// The noise is small next to the prototype distances, so a trained
	// model should be close to perfect on held-out data.
	if acc := float64(correct) / float64(len(y)); acc < 0.95 {
		t.Errorf("held-out accuracy %.3f, want >= 0.95", acc)
	}
	m2, x2, _, err := Trained(200)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.w1, m2.w1) || !slices.Equal(x.Data().([]float32), x2.Data().([]float32)) {
		t.Error("Trained is not deterministic")
	}
}

func TestContractsAndErrors(t *testing.T) {
	ctx := context.Background()
	m, err := New(Config{Shape: Shape{C: 1, H: 2, W: 2}, Hidden: 3, Classes: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	data := []float32{0.1, 0.2, 0.3, 0.4}
	x := tensor.New(tensor.WithShape(1, 1, 2, 2), tensor.WithBacking(slices.Clone(data)))
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: []int{1}}
	if _, _, err := m.LossGrad(ctx, x, obj); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Data().([]float32), data) {
		t.Error("LossGrad mutated its input")
	}
	bad := tensor.New(tensor.WithShape(1, 1, 4, 1), tensor.WithBacking(slices.Clone(data)))
	if _, err := m.Logits(ctx, bad); !errors.Is(err, robust.ErrShape) {
		t.Errorf("wrong shape: err = %v, want ErrShape", err)
	}
	if _, _, err := m.LossGrad(ctx, x, robust.Objective{Kind: robust.CrossEntropy, Labels: []int{3}}); !errors.Is(err, robust.ErrLabel) {
		t.Errorf("bad label: err = %v, want ErrLabel", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Logits(cctx, x); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if _, ok := robust.Classifier(NoGrad{m}).(robust.Differentiable); ok {
		t.Error("NoGrad exposes gradients")
	}
	c, err := NewConstant(Shape{C: 1, H: 2, W: 2}, []float64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := c.LossGrad(ctx, x, obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Data().([]float32) {
		if v != 0 {
			t.Fatalf("constant model gradient %v, want 0", g.Data())
		}
	}
	if _, err := New(Config{Shape: Shape{C: 1, H: 1, W: 1}, Classes: 1}); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("1 class: err = %v, want ErrConfig", err)
	}
}
