// Command gen trains the undefended MNIST model of robust/zoo
// (zoo.MNISTStandard) and writes it, unsigned, to -out:
//
//	go run ./robust/zoo/gen -out mnist-standard.safetensors
//
// The reference CNN (seed 1) is trained for 5 epochs of Adam (learning rate
// 1e-3, batch 100, seed 1) on the 60,000 MNIST training images; the command
// prints its clean accuracy on the 10,000 test images. Sign the file with
// examples/signmodel before it replaces the one in robust/zoo (see the
// package documentation of robust/zoo). The robust model of robust/zoo comes
// from examples/mnist instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), "gen trains the undefended MNIST model of robust/zoo.\n\nUsage: go run ./robust/zoo/gen [-out FILE] [-epochs N]\n\nFlags:\n")
		flag.PrintDefaults()
	}
	out := flag.String("out", "mnist-standard.safetensors", "model file to write")
	epochs := flag.Int("epochs", 5, "training epochs")
	flag.Parse()
	if flag.NArg() > 0 {
		usageError("unexpected arguments %q", flag.Args())
	}
	if *epochs < 1 {
		usageError("-epochs = %d, want at least 1", *epochs)
	}
	if err := run(context.Background(), *out, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

func run(ctx context.Context, out string, epochs int) error {
	trainSet, err := mnist.Train()
	if err != nil {
		return err
	}
	testSet, err := mnist.Test()
	if err != nil {
		return err
	}
	m, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: 1})
	if err != nil {
		return err
	}
	tr := train.Trainer{Epochs: epochs, BatchSize: 100, Optimizer: train.Adam{}, Schedule: train.Constant{Rate: 1e-3}, Seed: 1}
	start := time.Now()
	if _, err := tr.Fit(ctx, m, trainSet); err != nil {
		return err
	}
	idx := make([]int, testSet.Len())
	for i := range idx {
		idx[i] = i
	}
	clean, _, err := train.Accuracy(ctx, m, testSet, idx, nil, 500)
	if err != nil {
		return err
	}
	if err := nn.SaveFile(out, m, nil); err != nil {
		return err
	}
	fmt.Printf("%s: clean test accuracy %.4f, trained in %v\n", out, clean, time.Since(start).Round(time.Second))
	return nil
}
