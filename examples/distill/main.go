// Command distill trains a reference CNN by defensive distillation
// (Papernot et al. 2016) on MNIST and shows what the defense does at
// deployment (T = 1): a saturated softmax, which starves cross-entropy
// attacks of gradient, and no protection against a margin-loss attack
// (Carlini and Wagner 2017).
//
//	go run ./examples/distill -temperature 20 -epochs 2
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

// mnistTestLen is the size of the embedded MNIST test set.
const mnistTestLen = 10000

type options struct {
	temp   float64
	epochs int
	evalN  int
	eps    epsFlag
	seed   uint64
}

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `distill trains a teacher and a student by defensive distillation on MNIST and attacks both.

Usage:
  distill [-temperature 20] [-epochs 2] [-eval 1000] [-eps 0.1] [-seed 0]

Flags:
`)
		flag.PrintDefaults()
	}
	o := options{eps: 0.1}
	flag.Float64Var(&o.temp, "temperature", 20, "distillation temperature")
	flag.IntVar(&o.epochs, "epochs", 2, "epochs for the teacher and for the student")
	flag.IntVar(&o.evalN, "eval", 1000, "test examples for the attacks (at most 10000)")
	flag.Var(&o.eps, "eps", "Linf `radius` of the attacks, in (0, 1]; fractions such as 8/255 are read exactly")
	flag.Uint64Var(&o.seed, "seed", 0, "seed")
	flag.Parse()
	if flag.NArg() > 0 {
		usageError("unexpected arguments %q", flag.Args())
	}
	tr, err := checkFlags(o)
	if err != nil {
		usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err = run(ctx, o, tr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "distill:", err)
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "distill: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

// epsFlag is a flag.Value holding one budget, read by eval.ParseEpsilons so
// that fractions such as 8/255 are exact.
type epsFlag float64

func (e *epsFlag) String() string { return strconv.FormatFloat(float64(*e), 'g', -1, 64) }

func (e *epsFlag) Set(s string) error {
	if strings.Contains(s, ",") {
		return fmt.Errorf("%q is a list, want one budget", s)
	}
	v, err := eval.ParseEpsilons(s)
	if err != nil {
		return err
	}
	*e = epsFlag(v[0])
	return nil
}

// checkFlags validates every flag before any data is read and returns the
// trainer of the teacher and the student.
func checkFlags(o options) (train.Trainer, error) {
	switch {
	case !(o.temp > 0) || math.IsInf(o.temp, 0):
		return train.Trainer{}, fmt.Errorf("-temperature = %v, want a finite value > 0", o.temp)
	case o.epochs < 1:
		return train.Trainer{}, fmt.Errorf("-epochs = %d, want >= 1", o.epochs)
	case o.evalN < 1 || o.evalN > mnistTestLen:
		return train.Trainer{}, fmt.Errorf("-eval = %d, want a value in [1, %d]", o.evalN, mnistTestLen)
	case !(o.eps > 0 && o.eps <= 1):
		return train.Trainer{}, fmt.Errorf("-eps = %v, want a value in (0, 1]", float64(o.eps))
	}
	tr := train.Trainer{Method: train.Standard{Temperature: o.temp}, Epochs: o.epochs, BatchSize: 100, Schedule: train.Constant{Rate: 1e-3}, Seed: o.seed}
	if err := tr.Validate(); err != nil {
		return train.Trainer{}, err
	}
	for _, a := range attacks(o) {
		if err := a.Validate(); err != nil {
			return train.Trainer{}, err
		}
	}
	return tr, nil
}

// attacks are the cross-entropy and the margin attack.
func attacks(o options) [2]attack.PGD {
	eps := float64(o.eps)
	return [2]attack.PGD{{Eps: eps, Steps: 40, Seed: o.seed}, {Eps: eps, Steps: 40, Loss: robust.Margin, Seed: o.seed}}
}

func run(ctx context.Context, o options, tr train.Trainer) error {
	temp, evalN, eps, seed := o.temp, o.evalN, float64(o.eps), o.seed
	trainSet, err := mnist.Train()
	if err != nil {
		return err
	}
	testSet, err := mnist.Test()
	if err != nil {
		return err
	}
	teacher, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: seed})
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := tr.Fit(ctx, teacher, trainSet); err != nil {
		return err
	}
	student, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: seed + 1})
	if err != nil {
		return err
	}
	if _, err := train.Distill(ctx, teacher, student, trainSet, temp, tr); err != nil {
		return err
	}
	fmt.Printf("teacher and student trained at T=%g in %v\n", temp, time.Since(start).Round(time.Second))
	all := make([]int, testSet.Len())
	for i := range all {
		all[i] = i
	}
	if evalN > len(all) {
		return fmt.Errorf("-eval %d: the test set has %d examples", evalN, len(all))
	}
	idx := all[:evalN]
	atks := attacks(o)
	for _, c := range []struct {
		name string
		m    *nn.Model
	}{{"teacher", teacher}, {"student", student}} {
		clean, _, err := train.Accuracy(ctx, c.m, testSet, all, nil, 500)
		if err != nil {
			return err
		}
		conf, err := meanTopProbability(ctx, c.m, testSet, idx)
		if err != nil {
			return err
		}
		_, ce, err := train.Accuracy(ctx, c.m, testSet, idx, atks[0], 500)
		if err != nil {
			return err
		}
		_, margin, err := train.Accuracy(ctx, c.m, testSet, idx, atks[1], 500)
		if err != nil {
			return err
		}
		fmt.Printf("%s at T=1: clean %.2f%%, mean top softmax probability %.6f, PGD-40 eps %.2g: cross-entropy %.2f%%, margin %.2f%%\n",
			c.name, 100*clean, conf, eps, 100*ce, 100*margin)
	}
	return nil
}

// meanTopProbability is the mean over examples of the largest softmax
// probability of the logits as the model outputs them (T = 1).
func meanTopProbability(ctx context.Context, m robust.Classifier, ds robust.Dataset, idx []int) (float64, error) {
	x, _, err := ds.Batch(idx)
	if err != nil {
		return 0, err
	}
	// Hardening that reveals the top class's probability alone gives the
	// largest softmax probability of every row, and 0 elsewhere.
	h, err := defense.Harden(m, defense.Hardening{TopK: 1})
	if err != nil {
		return 0, err
	}
	p, err := h.Probabilities(ctx, x)
	if err != nil {
		return 0, err
	}
	sum := 0.0
	switch d := p.Data().(type) {
	case []float32:
		for _, v := range d {
			sum += float64(v)
		}
	case []float64:
		for _, v := range d {
			sum += v
		}
	default:
		return 0, fmt.Errorf("probabilities of dtype %v, want float32 or float64", p.Dtype())
	}
	return sum / float64(len(idx)), nil
}
