package mnist_test

import (
	"fmt"
	"log"

	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
)

// ExampleTrain loads the training set, holds out a validation set and takes
// a first batch.
func ExampleTrain() {
	ds, err := mnist.Train()
	if err != nil {
		log.Fatal(err)
	}
	train, val, err := data.Split(ds, 5000, 1)
	if err != nil {
		log.Fatal(err)
	}
	x, y, err := train.Batch([]int{0, 1, 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ds.Len(), train.Len(), val.Len())
	fmt.Println(x.Shape(), len(y))
	// Output:
	// 60000 55000 5000
	// (3, 1, 28, 28) 3
}
