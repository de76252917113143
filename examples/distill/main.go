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
	"log"
	"math"
	"time"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
)

func main() {
	temp := flag.Float64("temperature", 20, "distillation temperature")
	epochs := flag.Int("epochs", 2, "epochs for the teacher and for the student")
	evalN := flag.Int("eval", 1000, "test examples for the attacks")
	eps := flag.Float64("eps", 0.1, "Linf radius of the attacks")
	seed := flag.Uint64("seed", 0, "seed")
	flag.Parse()
	if err := run(context.Background(), *temp, *epochs, *evalN, *eps, *seed); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, temp float64, epochs, evalN int, eps float64, seed uint64) error {
	trainSet, err := mnist.Train()
	if err != nil {
		return err
	}
	testSet, err := mnist.Test()
	if err != nil {
		return err
	}
	tr := train.Trainer{Method: train.Standard{Temperature: temp}, Epochs: epochs, BatchSize: 100, Schedule: train.Constant{Rate: 1e-3}, Seed: seed}
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
	idx := all[:min(evalN, len(all))]
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
		_, ce, err := train.Accuracy(ctx, c.m, testSet, idx, attack.PGD{Eps: eps, Steps: 40, Seed: seed}, 500)
		if err != nil {
			return err
		}
		_, margin, err := train.Accuracy(ctx, c.m, testSet, idx, attack.PGD{Eps: eps, Steps: 40, Loss: robust.Margin, Seed: seed}, 500)
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
	z, err := m.Logits(ctx, x)
	if err != nil {
		return 0, err
	}
	zd, err := tensors.Float64s(z)
	if err != nil {
		return 0, err
	}
	k := m.NumClasses()
	sum := 0.0
	for i := range idx {
		row := zd[i*k : (i+1)*k]
		mx, s := math.Inf(-1), 0.0
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		sum += 1 / s
	}
	return sum / float64(len(idx)), nil
}
