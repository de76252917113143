// Command gen trains the models of internal/mnistmodels and writes them
// into that directory:
//
//	go run ./internal/mnistmodels/gen -dir internal/mnistmodels
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/gorobust/gorobust/internal/mnistmodels"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

func main() {
	dir := flag.String("dir", "internal/mnistmodels", "output directory")
	epochs := flag.Int("epochs", 5, "training epochs")
	flag.Parse()
	ctx := context.Background()
	trainSet, err := mnist.Train()
	if err != nil {
		log.Fatal(err)
	}
	testSet, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	m, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	tr := train.Trainer{Epochs: *epochs, BatchSize: 100, Optimizer: train.Adam{}, Schedule: train.Constant{Rate: 1e-3}, Seed: 1}
	start := time.Now()
	if _, err := tr.Fit(ctx, m, trainSet); err != nil {
		log.Fatal(err)
	}
	idx := make([]int, testSet.Len())
	for i := range idx {
		idx[i] = i
	}
	clean, _, err := train.Accuracy(ctx, m, testSet, idx, nil, 500)
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(*dir, mnistmodels.StandardFile)
	if err := nn.SaveFile(path, m, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: clean test accuracy %.4f, trained in %v\n", path, clean, time.Since(start).Round(time.Second))
}
