package nn

import (
	"context"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

// The benchmarks use the reference CNN at batch 128, the setting of the
// project's performance figures; run them with
//
//	go test -run '^$' -bench . -benchmem ./robust/nn

func benchLabels(n int) []int {
	y := make([]int, n)
	for i := range y {
		y[i] = i % 10
	}
	return y
}

func BenchmarkLossGrad(b *testing.B) {
	const n = 128
	m := mustNew(b, ReferenceCNN(), nil)
	x := randImages(n, ReferenceCNN(), 1)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: benchLabels(n)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.LossGrad(ctx, x, obj); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkTrainStep(b *testing.B) {
	const n = 128
	m := mustNew(b, ReferenceCNN(), nil)
	x := randImages(n, ReferenceCNN(), 1)
	loss := TrainLoss{Labels: benchLabels(n)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.TrainStep(ctx, x, loss); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}
