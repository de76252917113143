package data_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/gorobust/gorobust/robust/data"
)

// ExampleLoad builds a tiny MNIST-format pair of files in memory, loads
// them, and takes a batch: pixel bytes become float32 values in [0, 1].
func ExampleLoad() {
	var images, labels bytes.Buffer
	// Three 2 x 2 images.
	pix := []byte{0, 51, 102, 255, 10, 20, 30, 40, 255, 255, 0, 0}
	if err := data.WriteIDX(&images, &data.IDX{Dims: []int{3, 2, 2}, Data: pix}); err != nil {
		log.Fatal(err)
	}
	if err := data.WriteIDX(&labels, &data.IDX{Dims: []int{3}, Data: []byte{7, 1, 3}}); err != nil {
		log.Fatal(err)
	}
	ds, err := data.Load(&images, &labels, nil)
	if err != nil {
		log.Fatal(err)
	}
	x, y, err := ds.Batch([]int{2, 0})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("examples:", ds.Len(), "classes:", ds.NumClasses())
	fmt.Println("batch shape:", x.Shape(), "labels:", y)
	fmt.Println("values:", x.Data())

	// A file with fewer bytes than its header declares is an error.
	short := []byte{0, 0, 8, 1, 0, 0, 0, 4, 1, 2}
	_, err = data.ReadIDX(bytes.NewReader(short), nil)
	fmt.Println(err)
	// Output:
	// examples: 3 classes: 10
	// batch shape: (2, 1, 2, 2) labels: [3 7]
	// values: [1 1 0 0 0 0.2 0.4 1]
	// data: truncated data: want 4 bytes, got 2: data: invalid idx file
}

// ExampleBatches shows one epoch of batches in order (nil generator) and
// the shuffled epochs that a seeded generator gives.
func ExampleBatches() {
	ordered, err := data.Batches(7, 3, nil, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ordered)
	dropped, _ := data.Batches(7, 3, nil, true)
	fmt.Println(dropped)

	// Epoch e of a training seeded with 1: the same seed and epoch always
	// give the same order.
	epoch1, _ := data.Batches(7, 3, data.EpochRand(1, 0), false)
	epoch2, _ := data.Batches(7, 3, data.EpochRand(1, 1), false)
	fmt.Println(len(epoch1), len(epoch2))
	// Output:
	// [[0 1 2] [3 4 5] [6]]
	// [[0 1 2] [3 4 5]]
	// 3 3
}
