package defense_test

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/internal/mnistmodels"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
)

// correct counts the examples of x that m labels y.
func correct(m robust.Classifier, x *tensor.Dense, y []int) int {
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		panic(err)
	}
	p, err := tensors.Argmax(z)
	if err != nil {
		panic(err)
	}
	c := 0
	for i := range p {
		if p[i] == y[i] {
			c++
		}
	}
	return c
}

// Evaluating a JPEG defense: the gradient automatic differentiation reports
// through JPEG's rounding is zero, so PGD stalls and the defense looks
// robust; BPDA attacks it honestly.
func ExampleProtect() {
	ctx := context.Background()
	model, err := mnistmodels.Standard() // undefended MNIST CNN
	if err != nil {
		fmt.Println(err)
		return
	}
	test, err := mnist.Test()
	if err != nil {
		fmt.Println(err)
		return
	}
	x, y, err := test.Batch([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
	if err != nil {
		fmt.Println(err)
		return
	}
	pgd := attack.PGD{Eps: 0.3, Steps: 10, Seed: 1}
	for _, g := range []defense.Gradient{defense.Shattered, defense.BPDA} {
		protected, err := defense.Protect(model, &defense.Options{Gradient: g}, defense.JPEG{Quality: 20})
		if err != nil {
			fmt.Println(err)
			return
		}
		xAdv, err := pgd.Perturb(ctx, protected, x, y)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-9s gradient: %d of 20 correct after PGD at eps 0.3\n", g, correct(protected, xAdv, y))
	}
	// Output:
	// shattered gradient: 20 of 20 correct after PGD at eps 0.3
	// bpda      gradient: 0 of 20 correct after PGD at eps 0.3
}

// A randomized defense is attacked with EOT: LossGrad averages the
// gradients of EOTSamples draws. Its randomness is a function of the seed
// and the input, so it is reproducible.
func ExampleProtect_randomized() {
	ctx := context.Background()
	model, x, y, err := testmodel.Trained(50) // small MLP on 8x8 synthetic images
	if err != nil {
		fmt.Println(err)
		return
	}
	protected, err := defense.Protect(model, &defense.Options{EOTSamples: 20, Seed: 1}, defense.GaussianNoise{Sigma: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	xAdv, err := attack.PGD{Eps: 0.3, Steps: 20, Seed: 1}.Perturb(ctx, protected, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("clean %d of 50, after PGD with EOT %d of 50\n", correct(protected, x, y), correct(protected, xAdv, y))
	// Output:
	// clean 50 of 50, after PGD with EOT 0 of 50
}

func ExampleReject() {
	ctx := context.Background()
	model, x, y, err := testmodel.Trained(200)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := defense.Reject(model, 0.9)
	if err != nil {
		fmt.Println(err)
		return
	}
	clean, err := r.Score(ctx, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Attacking the rejecting model: abstaining counts as a success for the
	// attack, as it counts as not correct for the defender.
	xAdv, err := attack.PGD{Eps: 0.1, Steps: 20, Seed: 1}.Perturb(ctx, r, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	adv, err := r.Score(ctx, xAdv, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("clean:", clean)
	fmt.Println("PGD:  ", adv)
	fmt.Printf("robust accuracy %.3f\n", adv.Accuracy())
	// Output:
	// clean: 200 correct, 0 wrong, 0 abstained of 200
	// PGD:   9 correct, 21 wrong, 170 abstained of 200
	// robust accuracy 0.045
}

func ExampleHarden() {
	ctx := context.Background()
	_, x, _, err := testmodel.Trained(1)
	if err != nil {
		fmt.Println(err)
		return
	}
	// An untrained model, for probabilities that are not all 0 or 1.
	model, err := testmodel.New(testmodel.Config{Shape: testmodel.BlobsShape, Hidden: 16, Classes: testmodel.BlobsClasses, Seed: 9})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range []defense.Hardening{{LabelsOnly: true}, {TopK: 2}, {Decimals: 1}} {
		served, err := defense.Harden(model, h)
		if err != nil {
			fmt.Println(err)
			return
		}
		p, err := served.Probabilities(ctx, x)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%+v: %.3f\n", h, p.Data())
	}
	// Output:
	// {LabelsOnly:true TopK:0 Decimals:0}: [1.000 0.000 0.000 0.000 0.000]
	// {LabelsOnly:false TopK:2 Decimals:0}: [0.620 0.000 0.117 0.000 0.000]
	// {LabelsOnly:false TopK:0 Decimals:1}: [0.600 0.100 0.100 0.100 0.100]
}

func ExampleEnsemble() {
	ctx := context.Background()
	a, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := testmodel.New(testmodel.Config{Shape: testmodel.BlobsShape, Hidden: 16, Classes: testmodel.BlobsClasses, Seed: 9})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := defense.Ensemble(a, b) // b is untrained: it only dilutes a's confidence
	if err != nil {
		fmt.Println(err)
		return
	}
	xAdv, err := attack.PGD{Eps: 0.25, Steps: 20, Seed: 1}.Perturb(ctx, e, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("clean %d of 100, after PGD on the ensemble %d of 100\n", correct(e, x, y), correct(e, xAdv, y))
	// Output:
	// clean 100 of 100, after PGD on the ensemble 10 of 100
}
