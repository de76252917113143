package defense

import (
	"context"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

// BenchmarkPreprocessors runs every preprocessor on 100 MNIST images.
func BenchmarkPreprocessors(b *testing.B) {
	x, _ := mnistImages(b, 100)
	ctx := context.Background()
	for _, tc := range preprocessors() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.p.Apply(ctx, x, robust.UnitBounds, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkProtectLossGrad measures BPDA through JPEG and EOT through
// RandomResizePad on the MNIST CNN, against the bare model.
func BenchmarkProtectLossGrad(b *testing.B) {
	x, y := mnistImages(b, 100)
	m := standardModel(b)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		m    robust.Differentiable
	}{
		{"model", m},
		{"JPEG", mustProtect(b, m, nil, JPEG{Quality: 20})},
		{"RandomResizePad EOT 10", mustProtect(b, m, &Options{EOTSamples: 10}, RandomResizePad{})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := tc.m.LossGrad(ctx, x, obj); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkEnsembleLossGrad measures an ensemble of two MNIST CNNs with
// the models' LogitsVJP and without it (LossGrad on twice the batch).
func BenchmarkEnsembleLossGrad(b *testing.B) {
	x, y := mnistImages(b, 100)
	m := standardModel(b)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		models []robust.Classifier
	}{{"LogitsVJP", []robust.Classifier{m, m}}, {"LossGrad", []robust.Classifier{hidden{m}, hidden{m}}}} {
		e, err := Ensemble(tc.models...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := e.LossGrad(ctx, x, obj); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
