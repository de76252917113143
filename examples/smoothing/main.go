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
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/defense/smoothing"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

// mnistTestLen is the size of the embedded MNIST test set.
const mnistTestLen = 10000

type options struct {
	path           string
	pubkey         string
	epochs         int
	sigma          positiveFlag
	n, n0, samples int
	alpha          float64
	seed           uint64
}

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `smoothing certifies an MNIST classifier by randomized smoothing, training it first with -epochs.

Usage:
  smoothing [-model FILE] [-epochs N] [-sigma 0.25] [-n 500] [flags]

Flags:
`)
		flag.PrintDefaults()
	}
	o := options{sigma: 0.25}
	flag.StringVar(&o.path, "model", "defense/smoothing/testdata/mnist-sigma025.safetensors", "model file")
	flag.StringVar(&o.pubkey, "pubkey", "", "PEM Ed25519 public key; the model file must carry a valid signature by it")
	flag.IntVar(&o.epochs, "epochs", 0, "if > 0, train this many epochs and save the model first")
	flag.Var(&o.sigma, "sigma", "noise standard `deviation`, for training and certification; fractions such as 64/255 are read exactly")
	flag.IntVar(&o.n, "n", 500, "certify the first n MNIST test images (at most 10000)")
	flag.IntVar(&o.n0, "n0", smoothing.PaperN0, "selection samples per image")
	flag.IntVar(&o.samples, "samples", 10000, "estimation samples per image (the paper uses 100,000)")
	flag.Float64Var(&o.alpha, "alpha", smoothing.PaperAlpha, "failure probability")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of training and of the certification noise")
	flag.Parse()
	if flag.NArg() > 0 {
		usageError("unexpected arguments %q", flag.Args())
	}
	if err := checkFlags(o); err != nil {
		usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "smoothing:", err)
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "smoothing: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

// positiveFlag is a flag.Value holding one positive number, read by
// eval.ParseEpsilons so that fractions such as 64/255 are exact.
type positiveFlag float64

func (p *positiveFlag) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }

func (p *positiveFlag) Set(s string) error {
	if strings.Contains(s, ",") {
		return fmt.Errorf("%q is a list, want one value", s)
	}
	v, err := eval.ParseEpsilons(s)
	if err != nil {
		return err
	}
	*p = positiveFlag(v[0])
	return nil
}

// checkFlags validates every flag before any data or model is read.
func checkFlags(o options) error {
	switch {
	case o.path == "":
		return fmt.Errorf("-model is empty, want a model file")
	case o.epochs < 0:
		return fmt.Errorf("-epochs = %d, want >= 0 (0: certify the saved model)", o.epochs)
	case !(o.sigma > 0) || math.IsInf(float64(o.sigma), 0):
		return fmt.Errorf("-sigma = %v, want a finite value > 0", float64(o.sigma))
	case o.n < 1 || o.n > mnistTestLen:
		return fmt.Errorf("-n = %d, want a value in [1, %d]", o.n, mnistTestLen)
	case o.n0 < 1:
		return fmt.Errorf("-n0 = %d, want >= 1", o.n0)
	case o.samples < 1:
		return fmt.Errorf("-samples = %d, want >= 1", o.samples)
	case !(o.alpha > 0 && o.alpha < 1):
		return fmt.Errorf("-alpha = %v, want a value in (0, 1)", o.alpha)
	}
	if o.epochs > 0 {
		if err := trainer(o).Validate(); err != nil {
			return err
		}
	}
	return nil
}

func run(ctx context.Context, o options) error {
	path, epochs, sigma, n, n0, samples, alpha, seed := o.path, o.epochs, float64(o.sigma), o.n, o.n0, o.samples, o.alpha, o.seed
	test, err := mnist.Test()
	if err != nil {
		return err
	}
	var m *nn.Model
	if epochs > 0 {
		if m, err = trainModel(ctx, o); err != nil {
			return err
		}
		if err := nn.SaveFile(path, m, nil); err != nil {
			return err
		}
		fmt.Printf("saved %s\n", path)
	} else {
		lo, err := loadOptions(path, o.pubkey, 0)
		if err != nil {
			return err
		}
		if m, err = nn.LoadFile(path, lo); err != nil {
			return err
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	clean, _, err := train.Accuracy(ctx, m, test, idx, nil, 500)
	if err != nil {
		return err
	}
	noisyModel, err := defense.Protect(m, &defense.Options{Seed: seed}, defense.GaussianNoise{Sigma: sigma})
	if err != nil {
		return err
	}
	noisy, _, err := train.Accuracy(ctx, noisyModel, test, idx, nil, 500)
	if err != nil {
		return err
	}
	s, err := smoothing.New(m, sigma, &smoothing.Options{Seed: seed})
	if err != nil {
		return err
	}
	x, y, err := test.Batch(idx)
	if err != nil {
		return err
	}
	start := time.Now()
	certs, err := s.Certify(ctx, x, n0, samples, alpha)
	if err != nil {
		return err
	}
	abstained := 0
	for _, c := range certs {
		if c.Class == smoothing.Abstain {
			abstained++
		}
	}
	fmt.Printf("base classifier on the %d images: clean %.1f%%, with noise sigma %v %.1f%%\n", n, 100*clean, sigma, 100*noisy)
	fmt.Printf("CERTIFY: sigma %v, n0 %d, n %d, alpha %v, %d images, %d abstentions, %v\n", sigma, n0, samples, alpha, n, abstained, time.Since(start).Round(time.Second))
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "L2 radius\tcertified accuracy")
	for _, r := range []float64{0, 0.25, 0.5, 0.75, 1.0} {
		a, err := smoothing.CertifiedAccuracy(certs, y, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%.2f\t%.1f%%\n", r, 100*a)
	}
	return tw.Flush()
}

// trainer trains on inputs with Gaussian noise of standard deviation -sigma.
func trainer(o options) train.Trainer {
	return train.Trainer{
		Epochs:    o.epochs,
		BatchSize: 100,
		Optimizer: train.Adam{},
		Schedule:  train.Constant{Rate: 1e-3},
		Seed:      o.seed,
		Augment:   smoothing.Noise{Sigma: float64(o.sigma)}.Augment,
	}
}

func trainModel(ctx context.Context, o options) (*nn.Model, error) {
	trainSet, err := mnist.Train()
	if err != nil {
		return nil, err
	}
	m, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: o.seed})
	if err != nil {
		return nil, err
	}
	tr := trainer(o)
	start := time.Now()
	if _, err := tr.Fit(ctx, m, trainSet); err != nil {
		return nil, err
	}
	fmt.Printf("trained %d epochs with noise sigma %v in %v\n", o.epochs, float64(o.sigma), time.Since(start).Round(time.Second))
	return m, nil
}

// loadOptions returns the options that load a model file: with -pubkey,
// the file must carry a signature that verifies with that key; without
// it, nothing is verified, and the program says so.
func loadOptions(path, pubkey string, workers int) (*nn.LoadOptions, error) {
	opts := &nn.LoadOptions{Options: nn.Options{Workers: workers}}
	if pubkey == "" {
		fmt.Fprintf(os.Stderr, "warning: %s is not verified: no -pubkey given, so its signature (if any) is not checked\n", path)
		return opts, nil
	}
	b, err := os.ReadFile(pubkey)
	if err != nil {
		return nil, err
	}
	if opts.PublicKey, err = nn.ReadPublicKey(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("%s: %w", pubkey, err)
	}
	return opts, nil
}
