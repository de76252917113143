package attack_test

import (
	"context"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

// benchmarkPGDSteps measures PGD on m with the batch x, y and reports
// gradient steps per second per image ("images/s" of one PGD step). Real
// models' benchmarks call it with their own batch.
func benchmarkPGDSteps(b *testing.B, m robust.Differentiable, x *tensor.Dense, y []int, eps float64) {
	const steps = 10
	a := attack.PGD{Eps: eps, Steps: steps}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Perturb(ctx, m, x, y); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*steps*len(y))/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkPGDStep runs PGD on the pure-Go test MLP, batch 128. It measures
// the attack's own overhead; the reference-CNN benchmark measures the model.
func BenchmarkPGDStep(b *testing.B) {
	m, x, y, err := testmodel.Trained(128)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkPGDSteps(b, m, x, y, 0.1)
}
