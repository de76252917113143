package eval_test

import (
	"context"
	"fmt"

	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust/eval"
)

func ExampleEvaluate() {
	// A small MLP trained on a synthetic 8x8 problem and 100 held-out
	// images; any robust.Classifier and robust.Dataset will do.
	m, x, y, err := testmodel.Trained(100)
	if err != nil {
		fmt.Println(err)
		return
	}
	ds := tensorDataset{x, y}
	s := suite.Quick(0.05, 0.1, 0.15) // FGSM and PGD-20, LInf
	r, err := eval.Evaluate(context.Background(), m, ds, s, nil)
	if err != nil {
		fmt.Println(err)
		return
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
	// clean: 100 of 100
	// eps 0.05 FGSM  99  PGD-20  99  worst case  99  check false
	// eps 0.1  FGSM  55  PGD-20  48  worst case  48  check false
	// eps 0.15 FGSM   3  PGD-20   2  worst case   2  check false
	// eps 1    FGSM   0  PGD-20   0  worst case   0  check true
}
