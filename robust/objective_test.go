package robust

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
)

func testObjectives(n, k int, rng *rand.Rand) []Objective {
	labels := make([]int, n)
	targets := make([]int, n)
	ref := make([]float64, n*k)
	for i := range labels {
		labels[i] = rng.IntN(k)
		targets[i] = (labels[i] + 1 + rng.IntN(k-1)) % k
		s := 0.0
		for j := 0; j < k; j++ {
			ref[i*k+j] = rng.Float64() + 0.01
			s += ref[i*k+j]
		}
		for j := 0; j < k; j++ {
			ref[i*k+j] /= s
		}
	}
	return []Objective{
		{Kind: CrossEntropy, Labels: labels},
		{Kind: TargetedCrossEntropy, Labels: labels, Targets: targets},
		{Kind: Margin, Labels: labels},
		{Kind: TargetedMargin, Labels: labels, Targets: targets},
		{Kind: DLR, Labels: labels},
		{Kind: TargetedDLR, Labels: labels, Targets: targets},
		{Kind: KL, Reference: ref},
	}
}

func TestObjectiveGradientsMatchFiniteDifferences(t *testing.T) {
	const n, k = 5, 7
	rng := rand.New(rand.NewPCG(3, 4))
	z := make([]float64, n*k)
	for i := range z {
		z[i] = 3 * rng.NormFloat64() // distinct logits: no ties, no kinks nearby
	}
	for _, obj := range testObjectives(n, k, rng) {
		if err := obj.Validate(n, k); err != nil {
			t.Fatalf("%v: %v", obj.Kind, err)
		}
		loss := make([]float64, n)
		grad := make([]float64, n*k)
		obj.Eval(z, n, k, loss, grad)
		f := func(v []float64) float64 {
			l := make([]float64, n)
			obj.Eval(v, n, k, l, nil)
			s := 0.0
			for _, x := range l {
				s += x
			}
			return s
		}
		want := fd.Gradient(nil, f, z, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		for i := range want {
			if math.Abs(grad[i]-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
				t.Errorf("%v: grad[%d] = %v, finite differences %v", obj.Kind, i, grad[i], want[i])
			}
		}
	}
}

func TestObjectiveValues(t *testing.T) {
	z := []float64{2, 1, 0, -1}
	cases := []struct {
		obj  Objective
		want float64
	}{
		// -log softmax(z)[0] = log(1 + e^-1 + e^-2 + e^-3)
		{Objective{Kind: CrossEntropy, Labels: []int{0}}, math.Log(1 + math.Exp(-1) + math.Exp(-2) + math.Exp(-3))},
		{Objective{Kind: Margin, Labels: []int{0}}, -1},
		{Objective{Kind: Margin, Labels: []int{3}}, 3},
		{Objective{Kind: TargetedMargin, Labels: []int{0}, Targets: []int{1}}, -1},
		// -(z_y - max_other) / (z_1st - z_3rd) = -(2-1)/(2-0)
		{Objective{Kind: DLR, Labels: []int{0}}, -0.5},
		// -(z_y - z_t) / (z_1st - (z_3rd + z_4th)/2) = -(2-(-1))/(2+0.5)
		{Objective{Kind: TargetedDLR, Labels: []int{0}, Targets: []int{3}}, -3 / 2.5},
	}
	for _, c := range cases {
		l := make([]float64, 1)
		c.obj.Eval(z, 1, 4, l, nil)
		if math.Abs(l[0]-c.want) > 1e-9 {
			t.Errorf("%v: got %v, want %v", c.obj.Kind, l[0], c.want)
		}
	}
}

func TestObjectiveValidate(t *testing.T) {
	cases := []struct {
		name string
		obj  Objective
		n, k int
		want error
	}{
		{"unknown kind", Objective{Kind: 99, Labels: []int{0}}, 1, 3, ErrConfig},
		{"label too large", Objective{Kind: CrossEntropy, Labels: []int{3}}, 1, 3, ErrLabel},
		{"negative label", Objective{Kind: Margin, Labels: []int{-1}}, 1, 3, ErrLabel},
		{"too few labels", Objective{Kind: CrossEntropy, Labels: []int{0}}, 2, 3, ErrShape},
		{"missing targets", Objective{Kind: TargetedCrossEntropy, Labels: []int{0}}, 1, 3, ErrShape},
		{"dlr two classes", Objective{Kind: DLR, Labels: []int{0}}, 1, 2, ErrConfig},
		{"targeted dlr three classes", Objective{Kind: TargetedDLR, Labels: []int{0}, Targets: []int{1}}, 1, 3, ErrConfig},
		{"kl without reference", Objective{Kind: KL}, 1, 3, ErrConfig},
		{"kl bad row", Objective{Kind: KL, Reference: []float64{0.7, 0.7}}, 1, 2, ErrConfig},
		{"kl shape", Objective{Kind: KL, Reference: []float64{0.5, 0.5}}, 1, 3, ErrShape},
	}
	for _, c := range cases {
		if err := c.obj.Validate(c.n, c.k); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// Eval refuses what Validate refuses, instead of indexing out of range.
func TestObjectiveEvalRejectsBadInput(t *testing.T) {
	z := []float64{1, 2, 3, 4, 5, 6}
	loss := make([]float64, 2)
	for _, c := range []struct {
		name string
		obj  Objective
		want error
	}{
		{"label >= K", Objective{Kind: CrossEntropy, Labels: []int{0, 3}}, ErrLabel},
		{"negative target", Objective{Kind: TargetedMargin, Labels: []int{0, 1}, Targets: []int{-1, 0}}, ErrLabel},
		{"too few labels", Objective{Kind: Margin, Labels: []int{0}}, ErrShape},
		{"short reference", Objective{Kind: KL, Reference: []float64{1, 0, 0}}, ErrShape},
	} {
		if err := c.obj.Eval(z, 2, 3, loss, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: Eval error %v, want %v", c.name, err, c.want)
		}
	}
	if err := (Objective{Kind: CrossEntropy, Labels: []int{0, 1}}).Eval(z[:5], 2, 3, loss, nil); !errors.Is(err, ErrShape) {
		t.Errorf("short logits: Eval error %v, want ErrShape", err)
	}
}
