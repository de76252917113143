// Command mnist trains the reference CNN to be robust on MNIST, evaluates
// it and saves it: gorobust's main job.
//
// By default it runs the setting of Wong, Rice and Kolter (2020), "Fast is
// better than free": FGSM with a random start at Linf eps 0.3, step 0.375,
// 10 epochs, Adam with a cyclic learning rate peaking at 5e-3 at 2/5 of
// training, batch 100, on the embedded MNIST. Against catastrophic
// overfitting it measures PGD-10 accuracy on 1,000 held-out training images
// after every epoch; after a fall of more than 0.2 it rewinds to the best
// epoch and trains the rest again with fresh randomness (-rollbacks, 3 by
// default), and after the last rollback it restores the best epoch and
// stops. It then reports clean accuracy on the full test set and robust
// accuracy under PGD-50 with 10 random restarts (step 0.01; each run freezes
// an example at its first adversarial iterate, and an example counts as
// robust only if no restart breaks it) on the first -eval test examples (all
// 10,000 with -eval 0), and saves the model in gorobust's safe model format.
//
//	go run ./examples/mnist                       # about 2 minutes on 2 cores
//	go run ./examples/mnist -eval 0               # robust accuracy on all 10,000
//	go run ./examples/mnist -early-stop=false -seed 11 -workers 1 -eval 0
//	                                              # the paper's setting as published; it made
//	                                              # zoo.MNISTRobust (figures: docs/experiments.md)
//	go run ./examples/mnist -method pgd-at -epochs 5
//	go run ./examples/mnist -data ~/fashion-mnist # any directory of MNIST-format IDX files
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/train"
	"github.com/schollz/progressbar/v3"
)

type options struct {
	method              string
	epochs, batch       int
	eps                 epsFlag
	alpha, lr           float64
	dataDir, out, ckpt  string
	evalN, restarts     int
	pgdSteps            int
	pgdStep, tradesBeta float64
	seed                uint64
	workers             int
	summary, load       string
	pubkey              string
	earlyStop           bool
	validation          int
	trainSteps          int
	importPath          string
	cleanFraction       float64
	rollbacks           int
	initPath            string
	cpuProfile, memProf string
	set                 map[string]bool // flags given on the command line
}

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `mnist trains a robust MNIST model, evaluates it and saves it.

Usage:
  mnist [-method fgsm-rs|pgd-at|trades|standard] [-epochs N] [-eps 0.3] [flags]
  mnist -load FILE | -import FILE [-eval N] [-eps 0.3] [flags]

Flags:
`)
		flag.PrintDefaults()
	}
	o := options{eps: 0.3}
	flag.StringVar(&o.method, "method", "fgsm-rs", "training method: fgsm-rs, pgd-at, trades or standard")
	flag.IntVar(&o.epochs, "epochs", 10, "training epochs")
	flag.IntVar(&o.batch, "batch", 100, "batch size")
	flag.Var(&o.eps, "eps", "Linf `radius` for training and evaluation, in (0, 1]; fractions such as 8/255 are read exactly")
	flag.Float64Var(&o.alpha, "alpha", 0.375, "FGSM-RS step size (Wong et al. use 1.25*eps)")
	flag.Float64Var(&o.lr, "lr", 5e-3, "peak learning rate of the cyclic schedule (Adam)")
	flag.Float64Var(&o.tradesBeta, "beta", 1, "TRADES beta (the TRADES paper uses 1 on MNIST)")
	flag.StringVar(&o.dataDir, "data", "", "directory of MNIST-format IDX files (default: the embedded MNIST)")
	flag.StringVar(&o.out, "out", "mnist-robust.safetensors", "where to save the trained model")
	flag.StringVar(&o.ckpt, "checkpoint", "", "checkpoint file: written every epoch and on interrupt; resumed from if it exists")
	flag.IntVar(&o.evalN, "eval", 1000, "test examples for the PGD evaluation (0: all)")
	flag.IntVar(&o.restarts, "restarts", 10, "PGD random restarts in the evaluation")
	flag.IntVar(&o.pgdSteps, "pgd-steps", 50, "PGD steps in the evaluation (and in PGD-AT training: 40)")
	flag.Float64Var(&o.pgdStep, "pgd-step", 0.01, "PGD step size in the evaluation")
	flag.Uint64Var(&o.seed, "seed", 0, "seed for initialisation, shuffling and attacks")
	flag.IntVar(&o.workers, "workers", 0, "replicas a batch is split across (0: GOMAXPROCS)")
	flag.StringVar(&o.summary, "summary", "", "write the results as JSON to this file")
	flag.StringVar(&o.load, "load", "", "skip training: evaluate the model in this file")
	flag.StringVar(&o.pubkey, "pubkey", "", "PEM Ed25519 public key; with -load, the model file must carry a valid signature by it")
	flag.StringVar(&o.initPath, "init", "", "train starting from the weights of a reference CNN in a plain safetensors state_dict (e.g. PyTorch's initialisation) instead of drawing them from -seed")
	flag.StringVar(&o.importPath, "import", "", "skip training: evaluate a reference CNN from a plain safetensors state_dict (e.g. written by scripts/torch-fgsmrs.py)")
	flag.BoolVar(&o.earlyStop, "early-stop", true, "fgsm-rs: after every epoch measure PGD-10 accuracy on -validation held-out training examples; on a fall of more than 0.2 (catastrophic overfitting) roll back (see -rollbacks) or restore the best epoch and stop")
	flag.IntVar(&o.validation, "validation", 1000, "training examples held out for -early-stop")
	flag.IntVar(&o.rollbacks, "rollbacks", 3, "fgsm-rs with -early-stop: collapses that rewind to the best epoch and train the rest again with fresh randomness, instead of stopping (0: stop at the first, as Wong et al.)")
	flag.Float64Var(&o.cleanFraction, "clean-fraction", 0, "pgd-at and fgsm-rs: weight of the clean loss, (1-c)*CE(adv) + c*CE(clean)")
	flag.IntVar(&o.trainSteps, "train-steps", 40, "attack steps during pgd-at and trades training (step 0.01 at 40 steps, else 2.5*eps/steps)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	flag.StringVar(&o.memProf, "memprofile", "", "write a heap profile (go tool pprof; -sample_index=alloc_space for allocations) to this file at exit")
	flag.Parse()
	o.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if flag.NArg() > 0 {
		usageError("unexpected arguments %q", flag.Args())
	}
	j, err := checkFlags(o)
	if err != nil {
		usageError("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := profiled(o, func() error { return run(ctx, o, j) }); err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		stop()
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mnist: "+format+"\n", args...)
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

// job is what the flags ask for, checked before any data is read: the
// trainer (nil with -load or -import) and the evaluation attack.
type job struct {
	trainer *train.Trainer
	pgd     attack.PGD
}

// methodFlags are the flags that only some training methods read.
var methodFlags = map[string][]string{
	"alpha":          {"fgsm-rs"},
	"early-stop":     {"fgsm-rs"},
	"validation":     {"fgsm-rs"},
	"rollbacks":      {"fgsm-rs"},
	"clean-fraction": {"fgsm-rs", "pgd-at"},
	"train-steps":    {"pgd-at", "trades"},
	"beta":           {"trades"},
}

// trainingFlags are the flags that -load and -import, which skip training,
// would ignore.
var trainingFlags = []string{"method", "epochs", "batch", "alpha", "lr", "beta", "out", "checkpoint", "init",
	"early-stop", "validation", "rollbacks", "clean-fraction", "train-steps"}

// checkFlags validates every flag; o.set holds the names of the flags given
// on the command line.
func checkFlags(o options) (job, error) {
	eps := float64(o.eps)
	switch {
	case !(eps > 0 && eps <= 1):
		return job{}, fmt.Errorf("-eps = %v, want a value in (0, 1]", eps)
	case o.evalN < 0:
		return job{}, fmt.Errorf("-eval = %d, want >= 0 (0: all)", o.evalN)
	case o.restarts < 1:
		return job{}, fmt.Errorf("-restarts = %d, want >= 1", o.restarts)
	case o.pgdSteps < 1:
		return job{}, fmt.Errorf("-pgd-steps = %d, want >= 1", o.pgdSteps)
	case !(o.pgdStep > 0) || math.IsInf(o.pgdStep, 0):
		return job{}, fmt.Errorf("-pgd-step = %v, want a finite value > 0", o.pgdStep)
	case o.workers < 0:
		return job{}, fmt.Errorf("-workers = %d, want >= 0 (0: GOMAXPROCS)", o.workers)
	case o.load != "" && o.importPath != "":
		return job{}, errors.New("-load and -import exclude each other")
	}
	// Strict: an example is frozen at its first adversarial iterate within a
	// run, and is robust only if no restart breaks it.
	j := job{pgd: attack.PGD{Eps: eps, Steps: o.pgdSteps, Step: o.pgdStep, Restarts: o.restarts, Seed: o.seed, StopOnSuccess: true}}
	if err := j.pgd.Validate(); err != nil {
		return job{}, err
	}
	if o.load != "" || o.importPath != "" {
		skip := "-load"
		if o.importPath != "" {
			skip = "-import"
		}
		for _, name := range trainingFlags {
			if o.set[name] {
				return job{}, fmt.Errorf("-%s with %s, which skips training", name, skip)
			}
		}
		return j, nil
	}
	switch {
	case o.method != "fgsm-rs" && o.method != "pgd-at" && o.method != "trades" && o.method != "standard":
		return job{}, fmt.Errorf("-method = %q, want fgsm-rs, pgd-at, trades or standard", o.method)
	case o.epochs < 1:
		return job{}, fmt.Errorf("-epochs = %d, want >= 1", o.epochs)
	case o.batch < 1:
		return job{}, fmt.Errorf("-batch = %d, want >= 1", o.batch)
	case !(o.lr > 0) || math.IsInf(o.lr, 0):
		return job{}, fmt.Errorf("-lr = %v, want a finite value > 0", o.lr)
	case !(o.alpha > 0) || math.IsInf(o.alpha, 0):
		return job{}, fmt.Errorf("-alpha = %v, want a finite value > 0", o.alpha)
	case !(o.tradesBeta > 0) || math.IsInf(o.tradesBeta, 0):
		return job{}, fmt.Errorf("-beta = %v, want a finite value > 0", o.tradesBeta)
	case !(o.cleanFraction >= 0 && o.cleanFraction <= 1):
		return job{}, fmt.Errorf("-clean-fraction = %v, want a value in [0, 1]", o.cleanFraction)
	case o.trainSteps < 1:
		return job{}, fmt.Errorf("-train-steps = %d, want >= 1", o.trainSteps)
	case o.validation < 1:
		return job{}, fmt.Errorf("-validation = %d, want >= 1", o.validation)
	case o.rollbacks < 0:
		return job{}, fmt.Errorf("-rollbacks = %d, want >= 0", o.rollbacks)
	case !o.earlyStop && (o.set["validation"] || o.set["rollbacks"]):
		return job{}, errors.New("-validation and -rollbacks need -early-stop")
	}
	for name, methods := range methodFlags {
		if o.set[name] && !slices.Contains(methods, o.method) {
			return job{}, fmt.Errorf("-%s with -method %s, which does not read it (only %s)", name, o.method, strings.Join(methods, " and "))
		}
	}
	tr := train.Trainer{
		Epochs: o.epochs, BatchSize: o.batch, Seed: o.seed,
		Optimizer: train.Adam{}, Schedule: train.Cyclic{Max: o.lr},
		Checkpoint: o.ckpt,
	}
	switch o.method {
	case "fgsm-rs":
		tr.Method = train.Adversarial{Attack: attack.FGSMRS{Eps: eps, Step: o.alpha}, CleanFraction: o.cleanFraction}
		if o.earlyStop {
			tr.Validation = o.validation
			tr.EarlyStop = &train.EarlyStop{Attack: attack.PGD{Eps: eps, Steps: 10}, Rollbacks: o.rollbacks}
		}
	case "pgd-at":
		tr.Method = train.Adversarial{Attack: attack.PGD{Eps: eps, Steps: o.trainSteps, Step: trainStep(o)}, CleanFraction: o.cleanFraction}
	case "trades":
		tr.Method = train.TRADES{Eps: eps, Steps: o.trainSteps, Step: trainStep(o), Beta: o.tradesBeta}
	case "standard":
		tr.Method = nil // standard training
	}
	if err := tr.Validate(); err != nil {
		return job{}, err
	}
	j.trainer = &tr
	return j, nil
}

// profiled runs f under the CPU profile and writes the heap profile that
// the options ask for.
func profiled(o options, f func() error) error {
	if o.cpuProfile != "" {
		pf, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := f(); err != nil {
		return err
	}
	if o.memProf != "" {
		mf, err := os.Create(o.memProf)
		if err != nil {
			return err
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(mf); err != nil {
			mf.Close()
			return err
		}
		return mf.Close()
	}
	return nil
}

// summary is what the -summary file holds.
type summary struct {
	Method         string         `json:"method"`
	Epochs         int            `json:"epochs"`
	Seed           uint64         `json:"seed"`
	TrainSeconds   float64        `json:"train_seconds"`
	CleanAccuracy  float64        `json:"clean_accuracy"`
	CleanExamples  int            `json:"clean_examples"`
	RobustAccuracy float64        `json:"robust_accuracy"`
	RobustExamples int            `json:"robust_examples"`
	RobustAttack   string         `json:"robust_attack"`
	EvalSeconds    float64        `json:"eval_seconds"`
	Model          string         `json:"model"`
	History        *train.History `json:"history"`
}

func run(ctx context.Context, o options, j job) error {
	trainSet, testSet, err := loadData(o.dataDir)
	if err != nil {
		return err
	}
	var m *nn.Model
	var hist *train.History
	var trainTime time.Duration
	switch {
	case o.load != "":
		lo, err := loadOptions(o.load, o.pubkey, o.workers)
		if err != nil {
			return err
		}
		if m, err = nn.LoadFile(o.load, lo); err != nil {
			return err
		}
		fmt.Printf("loaded %s\n", o.load)
	case o.importPath != "":
		if m, err = importFile(o.importPath, o.workers); err != nil {
			return err
		}
		fmt.Printf("imported %s\n", o.importPath)
	default:
		if m, hist, trainTime, err = trainModel(ctx, o, *j.trainer, trainSet); err != nil {
			return err
		}
	}
	return evaluate(ctx, o, j.pgd, m, testSet, hist, trainTime)
}

// importFile reads a reference CNN from a plain safetensors state_dict.
func importFile(path string, workers int) (*nn.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return nn.Import(nn.ReferenceCNN(), f, &nn.ImportOptions{Options: nn.Options{Workers: workers}})
}

func trainModel(ctx context.Context, o options, tr train.Trainer, trainSet *data.Dataset) (*nn.Model, *train.History, time.Duration, error) {
	var m *nn.Model
	var err error
	if o.initPath != "" {
		m, err = importFile(o.initPath, o.workers)
	} else {
		m, err = nn.New(nn.ReferenceCNN(), &nn.Options{Seed: o.seed, Workers: o.workers})
	}
	if err != nil {
		return nil, nil, 0, err
	}
	if o.initPath != "" {
		fmt.Printf("starting from the weights in %s\n", o.initPath)
	}
	batches := (trainSet.Len() + o.batch - 1) / o.batch
	bar := progressbar.NewOptions(o.epochs*batches,
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowIts(), progressbar.OptionSetItsString("batch"),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish())
	tr.Progress = func(p train.Progress) {
		bar.Describe(fmt.Sprintf("epoch %d/%d loss %.3f acc %.3f %5.0f img/s", p.Epoch+1, p.Epochs, p.Loss, p.Accuracy, p.ImagesPerSecond))
		_ = bar.Set(p.Epoch*p.Batches + p.Batch + 1)
	}
	fmt.Printf("training the reference CNN with %s for %d epochs (eps %.3g) on %d examples\n", o.method, o.epochs, float64(o.eps), trainSet.Len())
	start := time.Now()
	hist, err := tr.Fit(ctx, m, trainSet)
	_ = bar.Finish()
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, nil, 0, err
	}
	trainTime := time.Since(start)
	for _, e := range hist.Epochs {
		fmt.Printf("epoch %2d: loss %.4f  train accuracy %.4f  lr %.2e  %6.0f img/s", e.Epoch+1, e.Loss, e.Accuracy, e.LR, e.ImagesPerSecond)
		if e.ValRobustMeasured {
			fmt.Printf("  validation: clean %.4f, PGD-10 %.4f", e.ValAccuracy, e.ValRobust)
		}
		if e.Collapsed {
			fmt.Printf("  collapsed: discarded")
		}
		fmt.Println()
	}
	if hist.Rollbacks > 0 {
		fmt.Printf("rollbacks: %d (training rewound to the best epoch after a collapse)\n", hist.Rollbacks)
	}
	if hist.EarlyStopped {
		fmt.Printf("early stop: PGD accuracy collapsed; restored the weights of epoch %d\n", hist.BestEpoch+1)
	}
	fmt.Printf("trained in %v\n", trainTime.Round(time.Second))
	if err := nn.SaveFile(o.out, m, nil); err != nil {
		return nil, nil, 0, err
	}
	fmt.Printf("saved %s\n", o.out)
	return m, hist, trainTime, nil
}

func evaluate(ctx context.Context, o options, pgd attack.PGD, m *nn.Model, testSet *data.Dataset, hist *train.History, trainTime time.Duration) error {
	all := indices(testSet.Len())
	evalStart := time.Now()
	clean, _, err := train.Accuracy(ctx, m, testSet, all, nil, 500)
	if err != nil {
		return err
	}
	fmt.Printf("clean accuracy: %.2f%% of %d test examples\n", 100*clean, len(all))
	evalIdx := all
	if o.evalN > 0 && o.evalN < len(all) {
		evalIdx = all[:o.evalN]
	}
	name := fmt.Sprintf("PGD-%d x %d restarts, Linf eps %.3g, step %.3g", o.pgdSteps, o.restarts, pgd.Eps, o.pgdStep)
	rob, err := robustAccuracy(ctx, m, testSet, evalIdx, pgd)
	if err != nil {
		return err
	}
	evalTime := time.Since(evalStart)
	fmt.Printf("robust accuracy: %.2f%% of %d test examples under %s (evaluated in %v)\n", 100*rob, len(evalIdx), name, evalTime.Round(time.Second))
	if o.summary != "" {
		s := summary{
			Method: o.method, Epochs: o.epochs, Seed: o.seed, TrainSeconds: trainTime.Seconds(),
			CleanAccuracy: clean, CleanExamples: len(all), RobustAccuracy: rob, RobustExamples: len(evalIdx),
			RobustAttack: name, EvalSeconds: evalTime.Seconds(), Model: modelPath(o), History: hist,
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		if err := os.WriteFile(o.summary, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// robustAccuracy evaluates in batches with a progress bar.
func robustAccuracy(ctx context.Context, m robust.Classifier, ds robust.Dataset, idx []int, atk robust.Attack) (float64, error) {
	const batch = 200
	bar := progressbar.NewOptions(len(idx), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription("PGD evaluation"),
		progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond))
	robustCount := 0
	for a := 0; a < len(idx); a += batch {
		part := idx[a:min(a+batch, len(idx))]
		_, r, err := train.Accuracy(ctx, m, ds, part, atk, len(part))
		if err != nil {
			return 0, err
		}
		robustCount += int(r*float64(len(part)) + 0.5)
		_ = bar.Add(len(part))
	}
	_ = bar.Finish()
	fmt.Fprintln(os.Stderr)
	return float64(robustCount) / float64(len(idx)), nil
}

func indices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func loadData(dir string) (trainSet, testSet *data.Dataset, err error) {
	if dir != "" {
		return data.LoadDir(dir, nil)
	}
	if trainSet, err = mnist.Train(); err != nil {
		return nil, nil, err
	}
	testSet, err = mnist.Test()
	return trainSet, testSet, err
}

func modelPath(o options) string {
	switch {
	case o.load != "":
		return o.load
	case o.importPath != "":
		return o.importPath
	}
	return o.out
}

// trainStep is the training attack's step: Madry et al.'s 0.01 for their 40
// steps, otherwise 2.5*eps/steps so that fewer steps still cross the ball.
func trainStep(o options) float64 {
	if o.trainSteps == 40 {
		return 0.01
	}
	return 2.5 * float64(o.eps) / float64(o.trainSteps)
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
