// Command smoothing trains an MNIST classifier for randomized smoothing
// (Cohen, Rosenfeld and Kolter, ICML 2019) and certifies it: with -epochs it
// trains the reference CNN (nn.ReferenceCNN) on inputs with Gaussian noise
// of standard deviation -sigma and saves it to -model; then it runs CERTIFY
// on the first -n MNIST test images and prints the certified accuracy at
// several L2 radii.
//
//	go run ./examples/smoothing -epochs 5   # train, save, certify
//	go run ./examples/smoothing             # certify the saved model
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"text/tabwriter"
	"time"

	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/defense/smoothing"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

func main() {
	path := flag.String("model", "defense/smoothing/testdata/mnist-sigma025.safetensors", "model file")
	epochs := flag.Int("epochs", 0, "if > 0, train this many epochs and save the model first")
	sigma := flag.Float64("sigma", 0.25, "noise standard deviation, for training and certification")
	n := flag.Int("n", 500, "certify the first n MNIST test images")
	n0 := flag.Int("n0", smoothing.PaperN0, "selection samples per image")
	samples := flag.Int("samples", 10000, "estimation samples per image (the paper uses 100,000)")
	alpha := flag.Float64("alpha", smoothing.PaperAlpha, "failure probability")
	seed := flag.Uint64("seed", 1, "seed of training and of the certification noise")
	flag.Parse()
	ctx := context.Background()
	test, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	var m *nn.Model
	if *epochs > 0 {
		m = trainModel(ctx, *epochs, *sigma, *seed)
		if err := nn.SaveFile(*path, m, nil); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("saved %s\n", *path)
	} else if m, err = nn.LoadFile(*path, nil); err != nil {
		log.Fatal(err)
	}
	idx := make([]int, *n)
	for i := range idx {
		idx[i] = i
	}
	clean, _, err := train.Accuracy(ctx, m, test, idx, nil, 500)
	if err != nil {
		log.Fatal(err)
	}
	noisyModel, err := defense.Protect(m, &defense.Options{Seed: *seed}, defense.GaussianNoise{Sigma: *sigma})
	if err != nil {
		log.Fatal(err)
	}
	noisy, _, err := train.Accuracy(ctx, noisyModel, test, idx, nil, 500)
	if err != nil {
		log.Fatal(err)
	}
	s, err := smoothing.New(m, *sigma, &smoothing.Options{Seed: *seed})
	if err != nil {
		log.Fatal(err)
	}
	x, y, err := test.Batch(idx)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	certs, err := s.Certify(ctx, x, *n0, *samples, *alpha)
	if err != nil {
		log.Fatal(err)
	}
	abstained := 0
	for _, c := range certs {
		if c.Class == smoothing.Abstain {
			abstained++
		}
	}
	fmt.Printf("base classifier on the %d images: clean %.1f%%, with noise sigma %v %.1f%%\n", *n, 100*clean, *sigma, 100*noisy)
	fmt.Printf("CERTIFY: sigma %v, n0 %d, n %d, alpha %v, %d images, %d abstentions, %v\n", *sigma, *n0, *samples, *alpha, *n, abstained, time.Since(start).Round(time.Second))
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "L2 radius\tcertified accuracy")
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 1.0} {
		a, err := smoothing.CertifiedAccuracy(certs, y, r)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(tw, "%.2f\t%.1f%%\n", r, 100*a)
	}
	tw.Flush()
}

func trainModel(ctx context.Context, epochs int, sigma float64, seed uint64) *nn.Model {
	trainSet, err := mnist.Train()
	if err != nil {
		log.Fatal(err)
	}
	m, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: seed})
	if err != nil {
		log.Fatal(err)
	}
	tr := train.Trainer{
		Epochs:    epochs,
		BatchSize: 100,
		Optimizer: train.Adam{},
		Schedule:  train.Constant{Rate: 1e-3},
		Seed:      seed,
		Augment:   smoothing.Noise{Sigma: sigma}.Augment,
	}
	start := time.Now()
	if _, err := tr.Fit(ctx, m, trainSet); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("trained %d epochs with noise sigma %v in %v\n", epochs, sigma, time.Since(start).Round(time.Second))
	return m
}
