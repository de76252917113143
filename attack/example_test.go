package attack_test

import (
	"context"
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

// predictions returns the model's argmax for each example of x.
func predictions(m robust.Classifier, x *tensor.Dense) []int {
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		panic(err)
	}
	p, err := tensors.Argmax(z)
	if err != nil {
		panic(err)
	}
	return p
}

func count(p []int, want func(i, p int) bool) int {
	c := 0
	for i, v := range p {
		if want(i, v) {
			c++
		}
	}
	return c
}

func ExamplePGD_Perturb() {
	ctx := context.Background()
	// A small MLP trained on a synthetic 8x8 problem, and 100 held-out images.
	m, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := attack.PGD{Eps: 0.25, Steps: 20} // LInf, random start, step 2.5*Eps/Steps
	xAdv, err := a.Perturb(ctx, m, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	clean, adv := predictions(m, x), predictions(m, xAdv)
	dist, _ := robust.LInf.Distances(x, xAdv)
	fmt.Println("correct before:", count(clean, func(i, p int) bool { return p == y[i] }))
	fmt.Println("correct after: ", count(adv, func(i, p int) bool { return p == y[i] }))
	fmt.Println("within eps:    ", slices.Max(dist) <= a.Eps)
	// Output:
	// correct before: 100
	// correct after:  0
	// within eps:     true
}

func ExamplePGD_PerturbTargeted() {
	ctx := context.Background()
	m, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Ask for class (y+1) mod 5 on every example.
	targets := make([]int, len(y))
	for i, l := range y {
		targets[i] = (l + 1) % m.NumClasses()
	}
	a := attack.PGD{Eps: 0.3, Loss: robust.Margin}
	xAdv, err := a.PerturbTargeted(ctx, m, x, y, targets)
	if err != nil {
		fmt.Println(err)
		return
	}
	adv := predictions(m, xAdv)
	fmt.Println("reached the target:", count(adv, func(i, p int) bool { return p == targets[i] }))
	// Output:
	// reached the target: 100
}

func ExampleAPGD_Perturb() {
	ctx := context.Background()
	m, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	// APGD needs no step size; L2 budget 1.5 in pixel units.
	a := attack.APGD{Eps: 1.5, Norm: robust.L2, Steps: 20, Loss: robust.DLR}
	xAdv, err := a.Perturb(ctx, m, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	dist, _ := robust.L2.Distances(x, xAdv)
	fmt.Println("still correct:", count(predictions(m, xAdv), func(i, p int) bool { return p == y[i] }))
	fmt.Println("within eps:   ", slices.Max(dist) <= a.Eps)
	// Output:
	// still correct: 0
	// within eps:    true
}

func ExampleSquare_Perturb() {
	ctx := context.Background()
	trained, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A model that answers only with logits, like a remote API.
	m := testmodel.NoGrad{Model: trained}
	if _, err := (attack.PGD{Eps: 0.25}).Perturb(ctx, m, x, y); err != nil {
		fmt.Println("PGD:", err)
	}
	a := attack.Square{Eps: 0.25, MaxQueries: 500, Seed: 1}
	xAdv, err := a.Perturb(ctx, m, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Square, still correct:", count(predictions(m, xAdv), func(i, p int) bool { return p == y[i] }))
	// Output:
	// PGD: attack: PGD needs gradients; testmodel.NoGrad is not a robust.Differentiable (use Square): robust: model provides no gradients
	// Square, still correct: 0
}
