package smoothing

import (
	"context"
	"testing"

	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
)

// TestMNISTCertify certifies a few MNIST test images with the committed
// noise-trained model (made by examples/smoothing) and a small sample
// budget: all are certified, correctly, with a radius near the largest that
// n = 500 samples allow, sigma * Phi^-1(0.001^(1/500)) = 0.25 * 2.21 = 0.55.
func TestMNISTCertify(t *testing.T) {
	if testing.Short() {
		t.Skip("certifies with a real MNIST model")
	}
	m, err := nn.LoadFile("testdata/mnist-sigma025.safetensors", nil)
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	x, y, err := test.Batch([]int{0, 1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(m, 0.25, &Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := s.Certify(context.Background(), x, 100, 500, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := CertifiedAccuracy(certs, y, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range certs {
		t.Logf("image %d (label %d): class %d, radius %.3f, %d of 500", i, y[i], c.Class, c.Radius, c.Count)
	}
	if acc < 0.8 {
		t.Errorf("certified accuracy at radius 0.4: %.2f, want >= 0.8", acc)
	}
	pred, err := s.Predict(context.Background(), x, 200, 0.001)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pred {
		if pred[i] != y[i] && pred[i] != Abstain {
			t.Errorf("image %d: Predict %d, label %d", i, pred[i], y[i])
		}
	}
}
