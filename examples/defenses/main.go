// Command defenses is the honest-evaluation demo of package defense: it
// attacks the undefended MNIST reference CNN (zoo.MNISTStandard) behind
// JPEG recompression and behind random resizing and padding, first as naive
// evaluations do (with the naive gradients of naive.go, which package
// defense does not offer) and then with BPDA and EOT, and prints the robust
// accuracies quoted in the package documentation:
//
//	go run ./examples/defenses -n 1000
//
// Robust accuracy counts an example as robust when the defended model
// classifies both it and its adversarial example correctly. Every attack
// and the randomized defense use seed -seed.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/zoo"
	"github.com/gorobust/gorobust/train"
)

func main() {
	n := flag.Int("n", 1000, "MNIST test images (the first n)")
	quality := flag.Int("quality", 20, "JPEG quality")
	ratio := flag.Float64("ratio", 0, "RandomResizePad.Ratio (0: the default 331/299)")
	seed := flag.Uint64("seed", 1, "seed of the attacks and of the randomized defense")
	only := flag.String("only", "", "run only the rows whose name contains this")
	flag.Parse()
	ctx := context.Background()
	m, err := zoo.MNISTStandard()
	if err != nil {
		log.Fatal(err)
	}
	test, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	idx := make([]int, *n)
	for i := range idx {
		idx[i] = i
	}
	protect := func(opts defense.Options, p defense.Preprocessor) *defense.Protected {
		opts.Seed = *seed
		d, err := defense.Protect(m, &opts, p)
		if err != nil {
			log.Fatal(err)
		}
		return d
	}
	pgd := func(steps int) func(eps float64) robust.Attack {
		return func(eps float64) robust.Attack { return attack.PGD{Eps: eps, Steps: steps, Seed: *seed} }
	}
	// pgdStop freezes each example at its first adversarial iterate; with
	// restarts, an example is robust only if no restart breaks it.
	pgdStop := func(steps, restarts int, step float64) func(eps float64) robust.Attack {
		return func(eps float64) robust.Attack {
			return attack.PGD{Eps: eps, Steps: steps, Step: step, Restarts: restarts, Seed: *seed, StopOnSuccess: true}
		}
	}
	apgd := func(eps float64) robust.Attack { return attack.APGD{Eps: eps, Seed: *seed} }
	fgsm := func(eps float64) robust.Attack { return attack.FGSM{Eps: eps} }
	jpeg := defense.JPEG{Quality: *quality}
	rrp := defense.RandomResizePad{Ratio: *ratio}
	jn := fmt.Sprintf("JPEG q=%d", *quality)
	rows := []struct {
		name   string
		model  robust.Classifier
		attack func(eps float64) robust.Attack
	}{
		{"undefended model, PGD-40", m, pgd(40)},
		{"undefended model, APGD-CE", m, apgd},
		{"undefended model, PGD-100 x 10, step 0.01, stop on success", m, pgdStop(100, 10, 0.01)},
		{jn + ", shattered gradient (autodiff: zero), PGD-40", shattered(protect(defense.Options{}, jpeg)), pgd(40)},
		{jn + ", undefended model's gradient at x, PGD-40", unprocessed(protect(defense.Options{}, jpeg), m), pgd(40)},
		{jn + ", BPDA identity, PGD-40", protect(defense.Options{}, identityBackward{jpeg}), pgd(40)},
		{jn + ", BPDA identity, APGD-CE", protect(defense.Options{}, identityBackward{jpeg}), apgd},
		{jn + ", BPDA identity, PGD-100 x 10, step 0.01, stop on success", protect(defense.Options{}, identityBackward{jpeg}), pgdStop(100, 10, 0.01)},
		{jn + ", BPDA smooth JPEG, PGD-40", protect(defense.Options{}, jpeg), pgd(40)},
		{jn + ", BPDA smooth JPEG, APGD-CE", protect(defense.Options{}, jpeg), apgd},
		{jn + ", BPDA smooth JPEG, PGD-100 x 10, step 0.01, stop on success", protect(defense.Options{}, jpeg), pgdStop(100, 10, 0.01)},
		{"RandomResizePad, undefended model's gradient at x, PGD-40", unprocessed(protect(defense.Options{}, rrp), m), pgd(40)},
		{"RandomResizePad, BPDA + EOT 1, FGSM", protect(defense.Options{EOTSamples: 1}, rrp), fgsm},
		{"RandomResizePad, BPDA + EOT 10, FGSM", protect(defense.Options{EOTSamples: 10}, rrp), fgsm},
		{"RandomResizePad, BPDA + EOT 30, FGSM", protect(defense.Options{EOTSamples: 30}, rrp), fgsm},
		{"RandomResizePad, BPDA + EOT 1, PGD-10", protect(defense.Options{EOTSamples: 1}, rrp), pgd(10)},
		{"RandomResizePad, BPDA + EOT 10, PGD-10", protect(defense.Options{EOTSamples: 10}, rrp), pgd(10)},
		{"RandomResizePad, BPDA + EOT 30, PGD-10", protect(defense.Options{EOTSamples: 30}, rrp), pgd(10)},
		{"RandomResizePad, BPDA + EOT 1, PGD-40", protect(defense.Options{EOTSamples: 1}, rrp), pgd(40)},
		{"RandomResizePad, BPDA + EOT 10, PGD-40", protect(defense.Options{EOTSamples: 10}, rrp), pgd(40)},
	}
	fmt.Printf("first %d MNIST test images, undefended reference CNN (zoo.MNISTStandard), seed %d\n", *n, *seed)
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "defense, gradient, attack\tclean %%\tLinf 0.1 %%\tLinf 0.3 %%\ttime\n")
	for _, r := range rows {
		if !strings.Contains(r.name, *only) {
			continue
		}
		start := time.Now()
		line := r.name
		for k, eps := range []float64{0.1, 0.3} {
			clean, rob, err := train.Accuracy(ctx, r.model, test, idx, r.attack(eps), 100)
			if err != nil {
				log.Fatal(err)
			}
			if k == 0 {
				line += fmt.Sprintf("\t%.1f", 100*clean)
			}
			line += fmt.Sprintf("\t%.1f", 100*rob)
		}
		fmt.Fprintf(tw, "%s\t%v\n", line, time.Since(start).Round(time.Second))
		tw.Flush()
	}
}
