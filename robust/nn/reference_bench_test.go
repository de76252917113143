package nn

import (
	"context"
	"math"
	"testing"

	"github.com/gorobust/gorobust/robust"
	"gorgonia.org/tensor"
)

// The reference benchmarks time the two steps the project's speed target is
// stated in (issue 8), on the reference CNN at batch 128, as the PyTorch
// peer ../shared/bench/torch_reference.py times them:
//
//	go test -run '^$' -bench Reference ./robust/nn
//
// scripts/bench-vs-torch runs them alternately with the peer and prints the
// ratios.

const (
	refBatch    = 128
	refEps      = 0.3  // Linf radius of the PGD step
	refAlpha    = 0.01 // PGD step size
	refLR       = 0.01 // SGD learning rate
	refMomentum = 0.9  // SGD momentum
)

// BenchmarkReferencePGDStep times one Linf PGD step: the cross-entropy
// gradient with respect to the input, a signed step, the projection onto
// the eps-ball around x0 and the clip to [0, 1].
func BenchmarkReferencePGDStep(b *testing.B) {
	m := mustNew(b, ReferenceCNN(), nil)
	x0 := randImages(refBatch, ReferenceCNN(), 1)
	x := x0.Clone().(*tensor.Dense)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: benchLabels(refBatch)}
	ctx := context.Background()
	xd := data32(x)
	// The projection onto the eps-ball intersected with [0, 1] is a clip
	// to per-pixel bounds, fixed for the whole attack.
	lo, hi := make([]float32, len(xd)), make([]float32, len(xd))
	for i, v := range data32(x0) {
		lo[i], hi[i] = max(v-refEps, 0), min(v+refEps, 1)
	}
	step := func() {
		_, g, err := m.LossGrad(ctx, x, obj)
		if err != nil {
			b.Fatal(err)
		}
		gd := data32(g)[:len(xd)]
		lo, hi := lo[:len(xd)], hi[:len(xd)]
		for i, gi := range gd {
			// alpha * sign(g): alpha with g's sign bit, without a branch
			// on the sign (which a random gradient mispredicts).
			s := math.Float32frombits(math.Float32bits(refAlpha) | math.Float32bits(gi)&(1<<31))
			v := xd[i]
			if gi != 0 {
				v += s
			}
			xd[i] = min(max(v, lo[i]), hi[i])
		}
	}
	step() // builds the engine's programs: the loop measures steady state
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(refBatch*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkReferenceTrainStep times one training step: the mean
// cross-entropy's parameter gradients and a plain SGD-with-momentum update
// through Model.Update.
func BenchmarkReferenceTrainStep(b *testing.B) {
	m := mustNew(b, ReferenceCNN(), nil)
	x := randImages(refBatch, ReferenceCNN(), 1)
	loss := TrainLoss{Labels: benchLabels(refBatch)}
	ctx := context.Background()
	velocity := make([][]float32, len(m.ParamInfos()))
	for i, p := range m.ParamInfos() {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		velocity[i] = make([]float32, n)
	}
	var grads []Param
	sgd := func(ps []Param) error {
		for j, p := range ps {
			w, g, v := data32(p.Value), data32(grads[j].Value), velocity[j]
			for k := range w {
				v[k] = refMomentum*v[k] + g[k]
				w[k] -= refLR * v[k]
			}
		}
		return nil
	}
	step := func() {
		r, err := m.TrainStep(ctx, x, loss)
		if err != nil {
			b.Fatal(err)
		}
		grads = r.Grads
		if err := m.Update(sgd); err != nil {
			b.Fatal(err)
		}
	}
	step() // builds the engine's programs: the loop measures steady state
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(refBatch*b.N)/b.Elapsed().Seconds(), "images/s")
}
