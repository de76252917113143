package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gorgonia.org/tensor"
)

// testLayers exercises every layer kind, stride-2 and padded convolutions,
// and both poolings.
func testLayers() (Shape, []Layer) {
	return Shape{C: 2, H: 9, W: 9}, []Layer{
		{Kind: Normalize, Mean: []float64{0.4, 0.6}, Std: []float64{0.3, 0.5}},
		{Kind: Conv2D, Out: 3, Kernel: 3, Stride: 2, Pad: 1}, // 3x5x5
		{Kind: ReLU},
		{Kind: Conv2D, Out: 4, Kernel: 2, Stride: 1, Pad: 0}, // 4x4x4
		{Kind: MaxPool2D, Kernel: 2, Stride: 1},              // 4x3x3
		{Kind: ReLU},
		{Kind: Conv2D, Out: 4, Kernel: 1, Stride: 1, Pad: 0}, // 4x3x3
		{Kind: AvgPool2D, Kernel: 2, Stride: 1},              // 4x2x2
		{Kind: AvgPool2D, Kernel: 1, Stride: 2},              // 4x1x1: stride 2 was wrong in Gorgonia
		{Kind: Flatten},
		{Kind: Dense, Out: 6},
		{Kind: Dropout, P: 0.3},
		{Kind: ReLU},
		{Kind: Dense, Out: 5},
	}
}

// fusedLayers has a ReLU after every convolution and dense layer, so the
// engine fuses them, a flatten straight into a dense layer, a stride-1
// unpadded convolution and a dense layer wider than the GEMM tile.
func fusedLayers() (Shape, []Layer) {
	return Shape{C: 2, H: 9, W: 9}, []Layer{
		{Kind: Conv2D, Out: 5, Kernel: 4, Stride: 2, Pad: 1}, // 5x4x4
		{Kind: ReLU},
		{Kind: Conv2D, Out: 3, Kernel: 2, Stride: 1, Pad: 0}, // 3x3x3
		{Kind: ReLU},
		{Kind: Flatten},
		{Kind: Dense, Out: 37},
		{Kind: ReLU},
		{Kind: Dense, Out: 4},
	}
}

// testArchs are the architectures every check runs on.
var testArchs = []struct {
	name   string
	layers func() (Shape, []Layer)
}{{"every-layer", testLayers}, {"fused", fusedLayers}}

func newArchNet(t testing.TB, arch func() (Shape, []Layer), dt tensor.Dtype, workers int) *Net {
	t.Helper()
	in, layers := arch()
	net, err := New(in, layers, dt, workers)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	err = net.Update(func(ws []*tensor.Dense) error {
		for i, w := range ws {
			bound := 1 / math.Sqrt(float64(net.params[i].FanIn))
			switch d := w.Data().(type) {
			case []float64:
				for j := range d {
					d[j] = (2*rng.Float64() - 1) * bound * 1.5
				}
			case []float32:
				for j := range d {
					d[j] = float32((2*rng.Float64() - 1) * bound * 1.5)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// ceLoss is softmax cross-entropy against labels[row0+i], scaled by w.
func ceLoss(labels []int, w float64) func(row0 int, z []float64, n, k int, loss, grad []float64) error {
	return func(row0 int, z []float64, n, k int, loss, grad []float64) error {
		for i := 0; i < n; i++ {
			row := z[i*k : (i+1)*k]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, v)
			}
			s := 0.0
			for _, v := range row {
				s += math.Exp(v - mx)
			}
			y := labels[row0+i]
			loss[i] = w * (mx + math.Log(s) - row[y])
			for j, v := range row {
				grad[i*k+j] = w * math.Exp(v-mx) / s
			}
			grad[i*k+y] -= w
		}
		return nil
	}
}

func archInput(arch func() (Shape, []Layer), dt tensor.Dtype, n int, seed uint64) *tensor.Dense {
	in, _ := arch()
	rng := rand.New(rand.NewPCG(seed, 7))
	size := n * in.C * in.H * in.W
	if dt == tensor.Float64 {
		d := make([]float64, size)
		for i := range d {
			d[i] = rng.Float64()
		}
		return tensor.New(tensor.WithShape(n, in.C, in.H, in.W), tensor.WithBacking(d))
	}
	d := make([]float32, size)
	for i := range d {
		d[i] = rng.Float32()
	}
	return tensor.New(tensor.WithShape(n, in.C, in.H, in.W), tensor.WithBacking(d))
}

// relErr is |a-b| / max(1e-3, |a|, |b|): relative away from zero, absolute
// near it, where finite differences have no relative accuracy.
func relErr(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(1e-3, math.Max(math.Abs(a), math.Abs(b)))
}

func TestInputGradientMatchesFiniteDifferences(t *testing.T) {
	for _, arch := range testArchs {
		t.Run(arch.name, func(t *testing.T) { checkInputGradient(t, arch.layers) })
	}
}

func checkInputGradient(t *testing.T, arch func() (Shape, []Layer)) {
	for _, workers := range []int{1, 2} {
		net := newArchNet(t, arch, tensor.Float64, workers)
		x := archInput(arch, tensor.Float64, 3, 1)
		labels := []int{0, 3, 1}
		fn := ceLoss(labels, 1)
		_, grad, err := net.LossGrad(context.Background(), x, fn)
		if err != nil {
			t.Fatal(err)
		}
		xd := x.Data().([]float64)
		f := func(v []float64) float64 {
			xt := tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(v))
			loss, _, err := net.LossGrad(context.Background(), xt, fn)
			if err != nil {
				t.Fatal(err)
			}
			s := 0.0
			for _, l := range loss {
				s += l
			}
			return s
		}
		want := fd.Gradient(nil, f, xd, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		got := grad.Data().([]float64)
		worst := 0.0
		for i := range want {
			worst = math.Max(worst, relErr(got[i], want[i]))
		}
		// 1e-5: central differences at step 1e-6 in float64 resolve these
		// gradients to ~1e-8; the slack covers an input near a ReLU kink.
		if worst > 1e-5 {
			t.Errorf("workers %d: input gradient off by %g (relative)", workers, worst)
		}
	}
}

func TestParameterGradientsMatchFiniteDifferences(t *testing.T) {
	for _, arch := range testArchs {
		t.Run(arch.name, func(t *testing.T) { checkParameterGradients(t, arch.layers) })
	}
}

func checkParameterGradients(t *testing.T, arch func() (Shape, []Layer)) {
	net := newArchNet(t, arch, tensor.Float64, 2)
	x := archInput(arch, tensor.Float64, 4, 2)
	labels := []int{1, 0, 3, 2}
	chunks := func(x *tensor.Dense) []TrainChunk { return halves(x, labels, 0.25) }
	// The dropout mask depends only on the seed, so the loss is a fixed
	// function of the weights and finite differences apply.
	const seed = 99
	_, grads, err := net.Train(context.Background(), chunks(x), seed)
	if err != nil {
		t.Fatal(err)
	}
	for pi, info := range net.Params() {
		var w []float64
		net.Read(func(m []*tensor.Dense) { w = append([]float64(nil), m[pi].Data().([]float64)...) })
		f := func(v []float64) float64 {
			if err := net.Update(func(m []*tensor.Dense) error { copy(m[pi].Data().([]float64), v); return nil }); err != nil {
				t.Fatal(err)
			}
			l, _, err := net.Train(context.Background(), chunks(x), seed)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		want := fd.Gradient(nil, f, w, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		f(w) // restore
		got := grads[pi].Data().([]float64)
		worst := 0.0
		for i := range want {
			worst = math.Max(worst, relErr(got[i], want[i]))
		}
		if worst > 1e-5 {
			t.Errorf("%s: gradient off by %g (relative)", info.Name, worst)
		}
	}
}

// halves splits x into two training chunks with cross-entropy losses
// weighted by w.
func halves(x *tensor.Dense, labels []int, w float64) []TrainChunk {
	s := x.Shape().Clone()
	n, size := s[0], s[1]*s[2]*s[3]
	h := n / 2
	var out []TrainChunk
	for _, r := range [][2]int{{0, h}, {h, n}} {
		cs := s.Clone()
		cs[0] = r[1] - r[0]
		var c *tensor.Dense
		switch d := x.Data().(type) {
		case []float64:
			c = tensor.New(tensor.WithShape(cs...), tensor.WithBacking(d[r[0]*size:r[1]*size]))
		case []float32:
			c = tensor.New(tensor.WithShape(cs...), tensor.WithBacking(d[r[0]*size:r[1]*size]))
		}
		loss := ceLoss(labels[r[0]:r[1]], w)
		out = append(out, TrainChunk{X: c, Loss: func(z []float64, n, k int, l, g []float64) error { return loss(0, z, n, k, l, g) }})
	}
	return out
}
