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
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/defense"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/robust/zoo"
	"github.com/gorobust/gorobust/train"
)

// mnistTestLen is the size of the embedded MNIST test set.
const mnistTestLen = 10000

type options struct {
	n       int
	quality int
	ratio   ratioFlag
	seed    uint64
	only    string
}

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `defenses attacks JPEG and random resize-and-pad defenses naively and with BPDA and EOT, and prints the robust accuracies.

Usage:
  defenses [-n 1000] [-quality 20] [-ratio 331/299] [-seed 1] [-only TEXT]

Flags:
`)
		flag.PrintDefaults()
	}
	var o options
	flag.IntVar(&o.n, "n", 1000, "MNIST test images (the first n, at most 10000)")
	flag.IntVar(&o.quality, "quality", 20, "JPEG quality, in [1, 100]")
	flag.Var(&o.ratio, "ratio", fmt.Sprintf("canvas `ratio` of RandomResizePad, in (1, %d]; fractions such as 331/299 are read exactly (0: the default 331/299)", defense.MaxResizePadRatio))
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the attacks and of the randomized defense")
	flag.StringVar(&o.only, "only", "", "run only the rows whose name contains this")
	flag.Parse()
	if flag.NArg() > 0 {
		usageError("unexpected arguments %q", flag.Args())
	}
	rows, err := checkFlags(o)
	if err != nil {
		usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err = run(ctx, o, rows)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "defenses:", err)
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "defenses: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

// ratioFlag is a flag.Value holding 0 or one positive number, read by
// eval.ParseEpsilons so that fractions such as 331/299 are exact.
type ratioFlag float64

func (r *ratioFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *ratioFlag) Set(s string) error {
	if v, err := strconv.ParseFloat(s, 64); err == nil && v == 0 {
		*r = 0
		return nil
	}
	if strings.Contains(s, ",") {
		return fmt.Errorf("%q is a list, want one value", s)
	}
	v, err := eval.ParseEpsilons(s)
	if err != nil {
		return err
	}
	*r = ratioFlag(v[0])
	return nil
}

// row is one line of the table: a model made from the undefended one, and
// an attack for each budget.
type row struct {
	name   string
	model  func(m *nn.Model) (robust.Classifier, error)
	attack func(eps float64) robust.Attack
}

// checkFlags validates every flag before any model or data is read and
// returns the rows to run.
func checkFlags(o options) ([]row, error) {
	switch {
	case o.n < 1 || o.n > mnistTestLen:
		return nil, fmt.Errorf("-n = %d, want a value in [1, %d]", o.n, mnistTestLen)
	case o.quality < 1 || o.quality > 100:
		return nil, fmt.Errorf("-quality = %d, want a value in [1, 100]", o.quality)
	}
	if err := (defense.RandomResizePad{Ratio: float64(o.ratio)}).Validate(); err != nil {
		return nil, fmt.Errorf("-ratio: %w", err)
	}
	var rows []row
	for _, r := range table(o) {
		if strings.Contains(r.name, o.only) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("-only %q matches no row", o.only)
	}
	return rows, nil
}

// table is every row of the demo.
func table(o options) []row {
	seed := o.seed
	undefended := func(m *nn.Model) (robust.Classifier, error) { return m, nil }
	// protect puts m behind p and, if wrap is not nil, attacks it with
	// wrap's naive gradient.
	protect := func(opts defense.Options, p defense.Preprocessor, wrap func(*defense.Protected, *nn.Model) robust.Classifier) func(*nn.Model) (robust.Classifier, error) {
		return func(m *nn.Model) (robust.Classifier, error) {
			opts.Seed = seed
			d, err := defense.Protect(m, &opts, p)
			if err != nil {
				return nil, err
			}
			if wrap == nil {
				return d, nil
			}
			return wrap(d, m), nil
		}
	}
	shatteredGrad := func(p *defense.Protected, _ *nn.Model) robust.Classifier { return shattered(p) }
	unprocessedGrad := func(p *defense.Protected, m *nn.Model) robust.Classifier { return unprocessed(p, m) }
	pgd := func(steps int) func(eps float64) robust.Attack {
		return func(eps float64) robust.Attack { return attack.PGD{Eps: eps, Steps: steps, Seed: seed} }
	}
	// pgdStop freezes each example at its first adversarial iterate; with
	// restarts, an example is robust only if no restart breaks it.
	pgdStop := func(steps, restarts int, step float64) func(eps float64) robust.Attack {
		return func(eps float64) robust.Attack {
			return attack.PGD{Eps: eps, Steps: steps, Step: step, Restarts: restarts, Seed: seed, StopOnSuccess: true}
		}
	}
	apgd := func(eps float64) robust.Attack { return attack.APGD{Eps: eps, Seed: seed} }
	fgsm := func(eps float64) robust.Attack { return attack.FGSM{Eps: eps} }
	jpeg := defense.JPEG{Quality: o.quality}
	rrp := defense.RandomResizePad{Ratio: float64(o.ratio)}
	jn := fmt.Sprintf("JPEG q=%d", o.quality)
	return []row{
		{"undefended model, PGD-40", undefended, pgd(40)},
		{"undefended model, APGD-CE", undefended, apgd},
		{"undefended model, PGD-100 x 10, step 0.01, stop on success", undefended, pgdStop(100, 10, 0.01)},
		{jn + ", shattered gradient (autodiff: zero), PGD-40", protect(defense.Options{}, jpeg, shatteredGrad), pgd(40)},
		{jn + ", undefended model's gradient at x, PGD-40", protect(defense.Options{}, jpeg, unprocessedGrad), pgd(40)},
		{jn + ", BPDA identity, PGD-40", protect(defense.Options{}, identityBackward{jpeg}, nil), pgd(40)},
		{jn + ", BPDA identity, APGD-CE", protect(defense.Options{}, identityBackward{jpeg}, nil), apgd},
		{jn + ", BPDA identity, PGD-100 x 10, step 0.01, stop on success", protect(defense.Options{}, identityBackward{jpeg}, nil), pgdStop(100, 10, 0.01)},
		{jn + ", BPDA smooth JPEG, PGD-40", protect(defense.Options{}, jpeg, nil), pgd(40)},
		{jn + ", BPDA smooth JPEG, APGD-CE", protect(defense.Options{}, jpeg, nil), apgd},
		{jn + ", BPDA smooth JPEG, PGD-100 x 10, step 0.01, stop on success", protect(defense.Options{}, jpeg, nil), pgdStop(100, 10, 0.01)},
		{"RandomResizePad, undefended model's gradient at x, PGD-40", protect(defense.Options{}, rrp, unprocessedGrad), pgd(40)},
		{"RandomResizePad, BPDA + EOT 1, FGSM", protect(defense.Options{EOTSamples: 1}, rrp, nil), fgsm},
		{"RandomResizePad, BPDA + EOT 10, FGSM", protect(defense.Options{EOTSamples: 10}, rrp, nil), fgsm},
		{"RandomResizePad, BPDA + EOT 30, FGSM", protect(defense.Options{EOTSamples: 30}, rrp, nil), fgsm},
		{"RandomResizePad, BPDA + EOT 1, PGD-10", protect(defense.Options{EOTSamples: 1}, rrp, nil), pgd(10)},
		{"RandomResizePad, BPDA + EOT 10, PGD-10", protect(defense.Options{EOTSamples: 10}, rrp, nil), pgd(10)},
		{"RandomResizePad, BPDA + EOT 30, PGD-10", protect(defense.Options{EOTSamples: 30}, rrp, nil), pgd(10)},
		{"RandomResizePad, BPDA + EOT 1, PGD-40", protect(defense.Options{EOTSamples: 1}, rrp, nil), pgd(40)},
		{"RandomResizePad, BPDA + EOT 10, PGD-40", protect(defense.Options{EOTSamples: 10}, rrp, nil), pgd(40)},
	}
}

func run(ctx context.Context, o options, rows []row) error {
	m, err := zoo.MNISTStandard()
	if err != nil {
		return err
	}
	test, err := mnist.Test()
	if err != nil {
		return err
	}
	idx := make([]int, o.n)
	for i := range idx {
		idx[i] = i
	}
	fmt.Printf("first %d MNIST test images, undefended reference CNN (zoo.MNISTStandard), seed %d\n", o.n, o.seed)
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "defense, gradient, attack\tclean %%\tLinf 0.1 %%\tLinf 0.3 %%\ttime\n")
	for _, r := range rows {
		model, err := r.model(m)
		if err != nil {
			return err
		}
		start := time.Now()
		line := r.name
		for k, eps := range []float64{0.1, 0.3} {
			clean, rob, err := train.Accuracy(ctx, model, test, idx, r.attack(eps), 100)
			if err != nil {
				return err
			}
			if k == 0 {
				line += fmt.Sprintf("\t%.1f", 100*clean)
			}
			line += fmt.Sprintf("\t%.1f", 100*rob)
		}
		fmt.Fprintf(tw, "%s\t%v\n", line, time.Since(start).Round(time.Second))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
