package defense_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/zoo"
)

// testImages returns the first n MNIST test images and their labels.
func testImages(n int) (*tensor.Dense, []int) {
	test, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x, y, err := test.Batch(idx)
	if err != nil {
		log.Fatal(err)
	}
	return x, y
}

// correct counts the images of x that m labels y.
func correct(m robust.Classifier, x *tensor.Dense, y []int) int {
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		log.Fatal(err)
	}
	logits, k := z.Data().([]float32), m.NumClasses()
	c := 0
	for i, label := range y {
		row := logits[i*k : (i+1)*k]
		if slices.Index(row, slices.Max(row)) == label {
			c++
		}
	}
	return c
}

// shattered is what a naive evaluation attacks: the defended model with the
// gradient automatic differentiation reports through JPEG's rounding, zero.
type shattered struct{ *defense.Protected }

func (s shattered) LossGrad(ctx context.Context, x *tensor.Dense, obj robust.Objective) ([]float32, *tensor.Dense, error) {
	l, g, err := s.Protected.LossGrad(ctx, x, obj)
	if err != nil {
		return nil, nil, err
	}
	return l, tensor.New(tensor.WithShape(g.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
}

// Evaluating a JPEG defense: the gradient automatic differentiation reports
// through JPEG's rounding is zero, so PGD stalls and the defense looks
// robust; Protect's gradient (BPDA) attacks it honestly.
func ExampleProtect() {
	ctx := context.Background()
	model, err := zoo.MNISTStandard() // undefended MNIST CNN
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(20)
	protected, err := defense.Protect(model, nil, defense.JPEG{Quality: 20})
	if err != nil {
		log.Fatal(err)
	}
	pgd := attack.PGD{Eps: 0.3, Steps: 10, Seed: 1}
	for _, target := range []struct {
		name string
		m    robust.Differentiable
	}{{"shattered", shattered{protected}}, {"bpda", protected}} {
		xAdv, err := pgd.Perturb(ctx, target.m, x, y)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-9s gradient: %d of 20 correct after PGD at eps 0.3\n", target.name, correct(protected, xAdv, y))
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
	model, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(10)
	protected, err := defense.Protect(model, &defense.Options{EOTSamples: 10, Seed: 1}, defense.GaussianNoise{Sigma: 0.3})
	if err != nil {
		log.Fatal(err)
	}
	xAdv, err := attack.PGD{Eps: 0.3, Steps: 10, Seed: 1}.Perturb(ctx, protected, x, y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("clean %d of 10, after PGD with EOT %d of 10\n", correct(protected, x, y), correct(protected, xAdv, y))
	// Output:
	// clean 9 of 10, after PGD with EOT 0 of 10
}

func ExampleReject() {
	ctx := context.Background()
	model, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(20)
	r, err := defense.Reject(model, 0.9)
	if err != nil {
		log.Fatal(err)
	}
	clean, err := r.Score(ctx, x, y)
	if err != nil {
		log.Fatal(err)
	}
	// Attacking the rejecting model: abstaining counts as a success for the
	// attack, as it counts as not correct for the defender.
	xAdv, err := attack.PGD{Eps: 0.1, Steps: 20, Seed: 1}.Perturb(ctx, r, x, y)
	if err != nil {
		log.Fatal(err)
	}
	adv, err := r.Score(ctx, xAdv, y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clean:", clean)
	fmt.Println("PGD:  ", adv)
	fmt.Printf("robust accuracy %.3f\n", adv.Accuracy())
	// Output:
	// clean: 18 correct, 0 wrong, 2 abstained of 20
	// PGD:   3 correct, 8 wrong, 9 abstained of 20
	// robust accuracy 0.150
}

func ExampleHarden() {
	ctx := context.Background()
	model, err := zoo.MNISTRobust()
	if err != nil {
		log.Fatal(err)
	}
	// An ambiguous image: the average of the first two test images, a 7
	// and a 2, for probabilities that are not all 0 or 1.
	two, _ := testImages(2)
	pix := two.Data().([]float32)
	mixed := make([]float32, 28*28)
	for i := range mixed {
		mixed[i] = (pix[i] + pix[28*28+i]) / 2
	}
	x := tensor.New(tensor.WithShape(1, 1, 28, 28), tensor.WithBacking(mixed))
	for _, h := range []defense.Hardening{{LabelsOnly: true}, {TopK: 2}, {Decimals: 1}} {
		served, err := defense.Harden(model, h)
		if err != nil {
			log.Fatal(err)
		}
		p, err := served.Probabilities(ctx, x)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%+v: %.3f\n", h, p.Data())
	}
	// Output:
	// {LabelsOnly:true TopK:0 Decimals:0}: [0.000 0.000 1.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000]
	// {LabelsOnly:false TopK:2 Decimals:0}: [0.000 0.000 0.936 0.000 0.000 0.000 0.000 0.000 0.037 0.000]
	// {LabelsOnly:false TopK:0 Decimals:1}: [0.000 0.000 0.900 0.000 0.000 0.000 0.000 0.000 0.000 0.000]
}

// An ensemble of the undefended and the adversarially trained MNIST models,
// attacked through its averaged probabilities.
func ExampleEnsemble() {
	ctx := context.Background()
	standard, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	robustModel, err := zoo.MNISTRobust()
	if err != nil {
		log.Fatal(err)
	}
	e, err := defense.Ensemble(standard, robustModel)
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(20)
	xAdv, err := attack.PGD{Eps: 0.3, Steps: 20, Seed: 1}.Perturb(ctx, e, x, y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("clean %d of 20, after PGD on the ensemble %d of 20\n", correct(e, x, y), correct(e, xAdv, y))
	// Output:
	// clean 20 of 20, after PGD on the ensemble 6 of 20
}

func ExampleJPEG() {
	// One MNIST-like image: a bright square on black.
	v := make([]float32, 28*28)
	for y := 8; y < 20; y++ {
		for x := 8; x < 20; x++ {
			v[y*28+x] = 1
		}
	}
	img := tensor.New(tensor.WithShape(1, 1, 28, 28), tensor.WithBacking(v))
	out, err := defense.JPEG{Quality: 20}.Apply(context.Background(), img, robust.UnitBounds, 0)
	if err != nil {
		log.Fatal(err)
	}
	d := out.Data().([]float32)
	fmt.Printf("centre %.2f, edge %.2f, corner %.2f\n", d[14*28+14], d[8*28+14], d[0])
	// Output:
	// centre 0.99, edge 0.99, corner 0.00
}
