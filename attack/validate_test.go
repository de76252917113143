package attack_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

type validator interface{ Validate() error }

func TestValidateConfig(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	bad := []struct {
		name string
		a    validator
	}{
		{"FGSM zero eps", attack.FGSM{}},
		{"FGSM negative eps", attack.FGSM{Eps: -0.1}},
		{"FGSM NaN eps", attack.FGSM{Eps: nan}},
		{"FGSM Inf eps", attack.FGSM{Eps: inf}},
		{"FGSM unknown norm", attack.FGSM{Eps: 0.1, Norm: 7}},
		{"FGSM KL loss", attack.FGSM{Eps: 0.1, Loss: robust.KL}},
		{"FGSM targeted loss", attack.FGSM{Eps: 0.1, Loss: robust.TargetedCrossEntropy}},
		{"FGSM unknown loss", attack.FGSM{Eps: 0.1, Loss: 99}},
		{"PGD zero eps", attack.PGD{}},
		{"PGD negative steps", attack.PGD{Eps: 0.1, Steps: -1}},
		{"PGD negative restarts", attack.PGD{Eps: 0.1, Restarts: -2}},
		{"PGD negative step", attack.PGD{Eps: 0.1, Step: -0.01}},
		{"PGD NaN step", attack.PGD{Eps: 0.1, Step: nan}},
		{"PGD Inf step", attack.PGD{Eps: 0.1, Step: inf}},
		{"PGD unknown norm", attack.PGD{Eps: 0.1, Norm: -1}},
		{"PGD restarts without random start", attack.PGD{Eps: 0.1, Restarts: 3, NoRandomStart: true}},
		{"PGD margin-targeted loss", attack.PGD{Eps: 0.1, Loss: robust.TargetedMargin}},
		{"PGD negative GaussianStart", attack.PGD{Eps: 0.1, GaussianStart: -0.001}},
		{"PGD NaN GaussianStart", attack.PGD{Eps: 0.1, GaussianStart: nan}},
		{"PGD GaussianStart without random start", attack.PGD{Eps: 0.1, GaussianStart: 0.001, NoRandomStart: true}},
		{"APGD NaN eps", attack.APGD{Eps: nan}},
		{"APGD negative steps", attack.APGD{Eps: 0.1, Steps: -5}},
		{"APGD negative restarts", attack.APGD{Eps: 0.1, Restarts: -1}},
		{"APGD rho above 1", attack.APGD{Eps: 0.1, Rho: 1.5}},
		{"APGD negative rho", attack.APGD{Eps: 0.1, Rho: -0.5}},
		{"APGD KL loss", attack.APGD{Eps: 0.1, Loss: robust.KL}},
		{"APGD unknown norm", attack.APGD{Eps: 0.1, Norm: 3}},
		{"APGDT zero eps", attack.APGDT{}},
		{"APGDT negative targets", attack.APGDT{Eps: 0.1, NumTargets: -1}},
		{"APGDT NaN rho", attack.APGDT{Eps: 0.1, Rho: nan}},
		{"Square zero eps", attack.Square{}},
		{"Square negative queries", attack.Square{Eps: 0.1, MaxQueries: -1}},
		{"Square p above 1", attack.Square{Eps: 0.1, PInit: 1.2}},
		{"Square negative p", attack.Square{Eps: 0.1, PInit: -0.1}},
	}
	for _, c := range bad {
		err := c.a.Validate()
		if !errors.Is(err, robust.ErrConfig) || !strings.HasPrefix(err.Error(), "attack: ") {
			t.Errorf("%s: err = %v, want an \"attack: \" error wrapping robust.ErrConfig", c.name, err)
		}
	}
	good := []validator{
		attack.FGSM{Eps: 0.3},
		attack.FGSM{Eps: 2, Norm: robust.L2, Loss: robust.DLR},
		attack.PGD{Eps: 0.3},
		attack.PGD{Eps: 0.3, NoRandomStart: true, Restarts: 1, Step: 0.01, Loss: robust.Margin},
		attack.PGD{Eps: 0.3, GaussianStart: 0.001, Restarts: 2},
		attack.APGD{Eps: 0.3, Rho: 1, Loss: robust.DLR},
		attack.APGDT{Eps: 0.3},
		attack.Square{Eps: 0.3, PInit: 1},
	}
	for _, a := range good {
		if err := a.Validate(); err != nil {
			t.Errorf("%#v: %v", a, err)
		}
	}
}

func TestPerturbErrors(t *testing.T) {
	ctx := context.Background()
	b := mustBlobs(t)
	x, y := b.x, b.y
	n := len(y)
	s := x.Shape()
	data := x.Data().([]float32)
	withValue := func(j int, v float32) *tensor.Dense {
		d := append([]float32(nil), data...)
		d[j] = v
		return tensor.New(tensor.WithShape(s...), tensor.WithBacking(d))
	}
	labels := func(i, v int) []int {
		l := append([]int(nil), y...)
		l[i] = v
		return l
	}
	three, err := testmodel.New(testmodel.Config{Shape: testmodel.BlobsShape, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	two, err := testmodel.New(testmodel.Config{Shape: testmodel.BlobsShape, Classes: 2})
	if err != nil {
		t.Fatal(err)
	}
	pgd := attack.PGD{Eps: 0.1, Steps: 2}
	cases := []struct {
		name string
		run  func() (*tensor.Dense, error)
		want error
	}{
		{"short labels", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, x, y[:n-1]) }, robust.ErrLabel},
		{"nil labels", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, x, nil) }, robust.ErrLabel},
		{"label too large", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, x, labels(3, 5)) }, robust.ErrLabel},
		{"negative label", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, x, labels(0, -1)) }, robust.ErrLabel},
		{"short targets", func() (*tensor.Dense, error) { return pgd.PerturbTargeted(ctx, b.m, x, y, y[:2]) }, robust.ErrLabel},
		{"target out of range", func() (*tensor.Dense, error) { return pgd.PerturbTargeted(ctx, b.m, x, y, labels(1, 9)) }, robust.ErrLabel},
		{"square target out of range", func() (*tensor.Dense, error) {
			return attack.Square{Eps: 0.1}.PerturbTargeted(ctx, b.m, x, y, labels(1, -3))
		}, robust.ErrLabel},
		{"3-d input", func() (*tensor.Dense, error) {
			return pgd.Perturb(ctx, b.m, tensor.New(tensor.WithShape(n, 8, 8), tensor.WithBacking(data)), y)
		}, robust.ErrShape},
		{"float64 input", func() (*tensor.Dense, error) {
			return pgd.Perturb(ctx, b.m, tensor.New(tensor.WithShape(1, 1, 1, 1), tensor.WithBacking([]float64{0.5})), []int{0})
		}, robust.ErrShape},
		{"nil input", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, nil, y) }, robust.ErrShape},
		{"wrong image size", func() (*tensor.Dense, error) {
			return pgd.Perturb(ctx, b.m, tensor.New(tensor.WithShape(n, 1, 4, 16), tensor.WithBacking(data)), y)
		}, robust.ErrShape},
		{"above bounds", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, withValue(5, 1.5), y) }, robust.ErrBounds},
		{"below bounds", func() (*tensor.Dense, error) { return attack.Square{Eps: 0.1}.Perturb(ctx, b.m, withValue(5, -0.1), y) }, robust.ErrBounds},
		{"NaN input", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, b.m, withValue(7, float32(math.NaN())), y) }, robust.ErrNonFinite},
		{"eps above width", func() (*tensor.Dense, error) { return attack.PGD{Eps: 8}.Perturb(ctx, b.m, x, y) }, robust.ErrConfig},
		{"square eps above width", func() (*tensor.Dense, error) { return attack.Square{Eps: 1.5}.Perturb(ctx, b.m, x, y) }, robust.ErrConfig},
		{"L2 eps above diameter", func() (*tensor.Dense, error) {
			// The unit box in 64 dimensions has L2 diameter 8.
			return attack.FGSM{Eps: 8.5, Norm: robust.L2}.Perturb(ctx, b.m, x, y)
		}, robust.ErrConfig},
		{"bad config", func() (*tensor.Dense, error) { return attack.APGD{Eps: -1}.Perturb(ctx, b.m, x, y) }, robust.ErrConfig},
		{"nil model", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, nil, x, y) }, robust.ErrConfig},
		{"FGSM without gradients", func() (*tensor.Dense, error) {
			return attack.FGSM{Eps: 0.1}.Perturb(ctx, testmodel.NoGrad{Model: b.m}, x, y)
		}, robust.ErrNoGradient},
		{"PGD without gradients", func() (*tensor.Dense, error) {
			return pgd.PerturbTargeted(ctx, testmodel.NoGrad{Model: b.m}, x, y, y)
		}, robust.ErrNoGradient},
		{"APGD without gradients", func() (*tensor.Dense, error) {
			return attack.APGD{Eps: 0.1}.Perturb(ctx, testmodel.NoGrad{Model: b.m}, x, y)
		}, robust.ErrNoGradient},
		{"APGDT without gradients", func() (*tensor.Dense, error) {
			return attack.APGDT{Eps: 0.1}.Perturb(ctx, testmodel.NoGrad{Model: b.m}, x, y)
		}, robust.ErrNoGradient},
		{"APGDT with 3 classes", func() (*tensor.Dense, error) {
			return attack.APGDT{Eps: 0.1}.Perturb(ctx, three, x, make([]int, n))
		}, robust.ErrConfig},
		{"APGDT more targets than classes", func() (*tensor.Dense, error) {
			return attack.APGDT{Eps: 0.1, NumTargets: 5}.Perturb(ctx, b.m, x, y)
		}, robust.ErrConfig},
		{"DLR with 2 classes", func() (*tensor.Dense, error) {
			return attack.PGD{Eps: 0.1, Loss: robust.DLR}.Perturb(ctx, two, x, make([]int, n))
		}, robust.ErrConfig},
		{"targeted DLR with 3 classes", func() (*tensor.Dense, error) {
			return attack.APGD{Eps: 0.1, Loss: robust.DLR}.PerturbTargeted(ctx, three, x, make([]int, n), make([]int, n))
		}, robust.ErrConfig},
		{"NaN gradient", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, faulty{b.m, nanGrad}, x, y) }, robust.ErrNonFinite},
		{"NaN logits", func() (*tensor.Dense, error) {
			return attack.Square{Eps: 0.1}.Perturb(ctx, faulty{b.m, nanLogits}, x, y)
		}, robust.ErrNonFinite},
		{"wrong logits shape", func() (*tensor.Dense, error) { return pgd.Perturb(ctx, faulty{b.m, shortLogits}, x, y) }, robust.ErrShape},
		{"wrong gradient shape", func() (*tensor.Dense, error) {
			return attack.APGD{Eps: 0.1, Steps: 2}.Perturb(ctx, faulty{b.m, shortGrad}, x, y)
		}, robust.ErrShape},
	}
	for _, c := range cases {
		out, err := c.run()
		if !errors.Is(err, c.want) || out != nil {
			t.Errorf("%s: out %v, err = %v, want nil and %v", c.name, out != nil, err, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "attack: ") {
			t.Errorf("%s: error %q lacks the \"attack: \" prefix", c.name, err)
		}
	}
}

type fault int

const (
	nanGrad fault = iota
	nanLogits
	shortLogits
	shortGrad
)

// faulty is a model that misbehaves in one way, to check that attacks
// catch bad model outputs instead of propagating them.
type faulty struct {
	m *testmodel.MLP
	f fault
}

func (m faulty) NumClasses() int       { return m.m.NumClasses() }
func (m faulty) Bounds() robust.Bounds { return m.m.Bounds() }

func (m faulty) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	z, err := m.m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	d := z.Data().([]float32)
	switch m.f {
	case nanLogits:
		d[0] = float32(math.NaN())
	case shortLogits:
		return tensor.New(tensor.WithShape(1, len(d)), tensor.WithBacking(d)), nil
	}
	return z, nil
}

func (m faulty) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	loss, g, err := m.m.LossGrad(ctx, x, obj)
	if err != nil {
		return nil, nil, err
	}
	d := g.Data().([]float32)
	switch m.f {
	case nanGrad:
		d[len(d)-1] = float32(math.NaN())
	case shortGrad:
		return loss, tensor.New(tensor.WithShape(1, 1, 1, len(d)-1), tensor.WithBacking(d[1:])), nil
	}
	return loss, g, nil
}
