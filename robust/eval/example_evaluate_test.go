package eval_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/zoo"
)

// Evaluating the adversarially trained MNIST model on the first 20 test
// images; any robust.Classifier and robust.Dataset will do.
func ExampleEvaluate() {
	m, err := zoo.MNISTRobust()
	if err != nil {
		log.Fatal(err)
	}
	test, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	ds, err := data.Subset(test, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
	if err != nil {
		log.Fatal(err)
	}
	s := suite.Quick(0.1, 0.2, 0.3) // FGSM and PGD-20, LInf
	r, err := eval.Evaluate(context.Background(), m, ds, s, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("clean: %d of %d\n", r.Clean.Correct, r.Clean.Total)
	for _, res := range r.Results {
		fmt.Printf("eps %-4v FGSM %3d  PGD-20 %3d  worst case %3d  check %v\n", res.Eps,
			res.Attacks[0].Robust.Correct, res.Attacks[1].Robust.Correct, res.WorstCase.Correct, res.LargeEpsCheck)
	}
	for _, f := range r.Sanity {
		if f.Tripped {
			fmt.Println("flag:", f.Name)
		}
	}
	// Output:
	// clean: 20 of 20
	// eps 0.1  FGSM  20  PGD-20  20  worst case  20  check false
	// eps 0.2  FGSM  19  PGD-20  18  worst case  18  check false
	// eps 0.3  FGSM  19  PGD-20  18  worst case  18  check false
	// eps 1    FGSM   0  PGD-20   0  worst case   0  check true
}
