// Package mnistmodels holds small MNIST models trained by this project's own
// code, for tests that need a real trained model without training one on
// every run. The files are gorobust model files (robust/nn) made by
// `go run ./internal/mnistmodels/gen`; the generator's settings are the
// documentation of how each was trained.
package mnistmodels

import (
	"bytes"
	_ "embed"

	"github.com/gorobust/gorobust/robust/nn"
)

//go:embed standard.safetensors
var standard []byte

// StandardFile is the name of the undefended model's file.
const StandardFile = "standard.safetensors"

// Standard returns a fresh copy of the reference CNN (nn.ReferenceCNN)
// trained without any defense: 5 epochs of Adam (learning rate 1e-3, batch
// 100, seed 1) on the 60,000 MNIST training images. It has 98.78%
// clean test accuracy and, like every undefended MNIST model, almost no
// robustness at Linf eps 0.3.
func Standard() (*nn.Model, error) {
	return nn.Load(bytes.NewReader(standard), nil)
}
