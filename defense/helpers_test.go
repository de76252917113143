package defense

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/robust/zoo"
)

// mnistImages returns the first n MNIST test images and their labels.
func mnistImages(t testing.TB, n int) (*tensor.Dense, []int) {
	t.Helper()
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x, y, err := test.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	return x, y
}

// standardModel returns the undefended MNIST reference CNN.
func standardModel(t testing.TB) *nn.Model {
	t.Helper()
	m, err := zoo.MNISTStandard()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// uniformImages returns n x c x h x w values drawn uniformly from b.
func uniformImages(seed uint64, n, c, h, w int, b robust.Bounds) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*c*h*w)
	for i := range v {
		v[i] = b.Min + b.Width()*float32(rng.Float64())
	}
	return tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(v))
}

func clone(x *tensor.Dense) *tensor.Dense { return x.Clone().(*tensor.Dense) }

func data32(t testing.TB, x *tensor.Dense) []float32 {
	t.Helper()
	d, ok := x.Data().([]float32)
	if !ok {
		t.Fatalf("dtype %v, want float32", x.Dtype())
	}
	return d
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// rows returns examples [a, b) of x as a new tensor.
func rows(x *tensor.Dense, a, b int) *tensor.Dense {
	s := x.Shape().Clone()
	size := s.TotalSize() / s[0]
	s[0] = b - a
	v := append([]float32(nil), x.Data().([]float32)[a*size:b*size]...)
	return tensor.New(tensor.WithShape(s...), tensor.WithBacking(v))
}

// accuracy is the fraction of x that m classifies as y.
func accuracy(t testing.TB, m robust.Classifier, x *tensor.Dense, y []int) float64 {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tensors.Argmax(z)
	if err != nil {
		t.Fatal(err)
	}
	c := 0
	for i := range p {
		if p[i] == y[i] {
			c++
		}
	}
	return float64(c) / float64(len(y))
}
