package defense

import (
	"context"
	"testing"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// TestMNISTHonestEvaluation is a small version of the package
// documentation's table: on the undefended MNIST CNN behind JPEG q=20, a
// PGD attack given the shattered gradient reports inflated robustness,
// while BPDA brings it to the undefended model's level at eps 0.3.
func TestMNISTHonestEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("attacks a real MNIST model")
	}
	ctx := context.Background()
	m := standardModel(t)
	x, y := mnistImages(t, 64)
	pgd := attack.PGD{Eps: 0.3, Steps: 10, Seed: 1}
	robustAcc := func(target, judge robust.Classifier) float64 {
		xa, err := pgd.Perturb(ctx, target, x, y)
		if err != nil {
			t.Fatal(err)
		}
		// Clean mistakes count as not robust.
		zc, _ := judge.Logits(ctx, x)
		za, _ := judge.Logits(ctx, xa)
		pc, _ := tensors.Argmax(zc)
		pa, _ := tensors.Argmax(za)
		c := 0
		for i := range y {
			if pc[i] == y[i] && pa[i] == y[i] {
				c++
			}
		}
		return float64(c) / float64(len(y))
	}
	undefended := robustAcc(m, m)
	jpeg := JPEG{Quality: 20}
	bpda := mustProtect(t, m, nil, jpeg)
	clean := accuracy(t, bpda, x, y)
	accBPDA := robustAcc(bpda, bpda)
	accShattered := robustAcc(shattered{bpda}, bpda)
	t.Logf("eps 0.3, PGD-10, %d images: undefended %.2f; JPEG q=20 clean %.2f, shattered gradient %.2f, BPDA %.2f",
		len(y), undefended, clean, accShattered, accBPDA)
	if accShattered < 0.8 {
		t.Errorf("shattered-gradient robust accuracy %.2f, want >= 0.8 (inflated)", accShattered)
	}
	if accBPDA > undefended+0.1 {
		t.Errorf("BPDA robust accuracy %.2f, want within 0.1 of the undefended model's %.2f", accBPDA, undefended)
	}
}
