package attack_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
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

// predictions returns the model's most likely class for each image of x.
func predictions(m robust.Classifier, x *tensor.Dense) []int {
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		log.Fatal(err)
	}
	logits, k := z.Data().([]float32), m.NumClasses()
	p := make([]int, len(logits)/k)
	for i := range p {
		row := logits[i*k : (i+1)*k]
		p[i] = slices.Index(row, slices.Max(row))
	}
	return p
}

// count counts the positions where p equals want.
func count(p, want []int) int {
	c := 0
	for i := range p {
		if p[i] == want[i] {
			c++
		}
	}
	return c
}

// PGD at Linf eps 0.3 against the two MNIST models of robust/zoo: the
// undefended one loses every image, the adversarially trained one few.
func ExamplePGD_Perturb() {
	ctx := context.Background()
	x, y := testImages(20)
	a := attack.PGD{Eps: 0.3, Steps: 20, Seed: 1} // LInf, random start, step 2.5*Eps/Steps
	for _, load := range []func() (*nn.Model, error){zoo.MNISTStandard, zoo.MNISTRobust} {
		m, err := load()
		if err != nil {
			log.Fatal(err)
		}
		xAdv, err := a.Perturb(ctx, m, x, y)
		if err != nil {
			log.Fatal(err)
		}
		dist, err := robust.LInf.Distances(x, xAdv)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("correct: %d of 20 before, %d after; within eps: %v\n",
			count(predictions(m, x), y), count(predictions(m, xAdv), y), slices.Max(dist) <= a.Eps)
	}
	// Output:
	// correct: 19 of 20 before, 0 after; within eps: true
	// correct: 20 of 20 before, 17 after; within eps: true
}

func ExamplePGD_PerturbTargeted() {
	ctx := context.Background()
	m, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(20)
	// Ask for class (y+1) mod 10 on every image.
	targets := make([]int, len(y))
	for i, l := range y {
		targets[i] = (l + 1) % m.NumClasses()
	}
	a := attack.PGD{Eps: 0.3, Loss: robust.Margin, Seed: 1}
	xAdv, err := a.PerturbTargeted(ctx, m, x, y, targets)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reached the target:", count(predictions(m, xAdv), targets), "of 20")
	// Output:
	// reached the target: 20 of 20
}

func ExampleAPGD_Perturb() {
	ctx := context.Background()
	m, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	x, y := testImages(20)
	// APGD needs no step size; L2 budget 2 in pixel units.
	a := attack.APGD{Eps: 2, Norm: robust.L2, Steps: 20, Loss: robust.DLR, Seed: 1}
	xAdv, err := a.Perturb(ctx, m, x, y)
	if err != nil {
		log.Fatal(err)
	}
	dist, err := robust.L2.Distances(x, xAdv)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("still correct:", count(predictions(m, xAdv), y), "of 20")
	fmt.Println("within eps:   ", slices.Max(dist) <= a.Eps)
	// Output:
	// still correct: 0 of 20
	// within eps:    true
}

// logitsOnly hides every method of a model but those of robust.Classifier,
// like a remote API that answers only with logits.
type logitsOnly struct{ robust.Classifier }

func ExampleSquare_Perturb() {
	ctx := context.Background()
	trained, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	m := logitsOnly{trained}
	x, y := testImages(5)
	if _, err := (attack.PGD{Eps: 0.3}).Perturb(ctx, m, x, y); err != nil {
		fmt.Println("PGD:", err)
	}
	a := attack.Square{Eps: 0.3, MaxQueries: 300, Seed: 1}
	xAdv, err := a.Perturb(ctx, m, x, y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Square, still correct:", count(predictions(m, xAdv), y), "of 5")
	// Output:
	// PGD: attack: PGD needs gradients; attack_test.logitsOnly is not a robust.Differentiable (use Square): robust: model provides no gradients
	// Square, still correct: 0 of 5
}
