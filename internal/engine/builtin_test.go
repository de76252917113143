package engine

import (
	"context"
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// referenceLayers is the reference CNN of robust/nn (Wong et al.'s MNIST
// model): the shapes the engine's kernels are tuned for.
func referenceLayers() (Shape, []Layer) {
	return Shape{C: 1, H: 28, W: 28}, []Layer{
		{Kind: Conv2D, Out: 16, Kernel: 4, Stride: 2, Pad: 1},
		{Kind: ReLU},
		{Kind: Conv2D, Out: 32, Kernel: 4, Stride: 2, Pad: 1},
		{Kind: ReLU},
		{Kind: Flatten},
		{Kind: Dense, Out: 100},
		{Kind: ReLU},
		{Kind: Dense, Out: 10},
	}
}

// values returns a tensor's values as float64.
func values(t *tensor.Dense) []float64 {
	switch d := t.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return d
	}
	panic(fmt.Sprintf("values of %v", t.Dtype()))
}

// closeTo reports the largest difference between got and want relative
// to the largest magnitude in want, and fails above tol.
func closeTo(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale, worst := 1e-12, 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range got {
		worst = math.Max(worst, math.Abs(got[i]-want[i]))
	}
	if worst/scale > tol {
		t.Errorf("%s: differs from Gorgonia's ops by %g of its scale %g", what, worst/scale, scale)
	}
}

// TestMatchesBuiltinPath compares the engine's own ops with the graph
// Gorgonia's built-in ops make of the same network: logits, the loss and
// input gradient of LossGrad, and the loss and parameter gradients of
// Train, in float64 and float32.
func TestMatchesBuiltinPath(t *testing.T) {
	archs := append(testArchs[:len(testArchs):len(testArchs)], struct {
		name   string
		layers func() (Shape, []Layer)
	}{"reference", referenceLayers})
	for _, arch := range archs {
		for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
			t.Run(fmt.Sprintf("%s/%v", arch.name, dt), func(t *testing.T) {
				// float64 differs only by summation order; float32 by
				// that and rounding of sums over up to 1568 terms.
				tol := 1e-12
				if dt == tensor.Float32 {
					tol = 2e-5
				}
				fast := newArchNet(t, arch.layers, dt, 2)
				ref := newArchNet(t, arch.layers, dt, 2)
				ref.builtin = true
				const n = 7 // odd: uneven chunks and partial GEMM tiles
				x := archInput(arch.layers, dt, n, 3)
				labels := make([]int, n)
				for i := range labels {
					labels[i] = i % fast.Classes()
				}
				ctx := context.Background()
				zf, err := fast.Logits(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				zr, err := ref.Logits(ctx, x)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "logits", values(zf), values(zr), tol)

				lf, gf, err := fast.LossGrad(ctx, x, ceLoss(labels, 1))
				if err != nil {
					t.Fatal(err)
				}
				lr, gr, err := ref.LossGrad(ctx, x, ceLoss(labels, 1))
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "loss", lf, lr, tol)
				closeTo(t, "input gradient", values(gf), values(gr), tol)

				tf, pf, err := fast.Train(ctx, halves(x, labels, 1.0/n), 5)
				if err != nil {
					t.Fatal(err)
				}
				tr, pr, err := ref.Train(ctx, halves(x, labels, 1.0/n), 5)
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, "training loss", []float64{tf}, []float64{tr}, tol)
				for i, info := range fast.Params() {
					closeTo(t, info.Name+" gradient", values(pf[i]), values(pr[i]), tol)
				}
			})
		}
	}
}
