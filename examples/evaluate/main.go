// Command evaluate benchmarks the robustness of a saved model: it loads a
// gorobust model file (verifying its Ed25519 signature when given a public
// key), a labelled IDX dataset (by default the MNIST test set embedded in
// robust/data/mnist) and a suite of attacks, runs eval.Evaluate with a
// progress bar, prints the table and writes into -out:
//
//	report.json    the report (schema gorobust.report/v1, see eval.Report)
//	report.txt     the table printed on standard output
//	accuracy.png   robust accuracy against epsilon, per attack and worst case
//	accuracy.svg   the same plot as SVG
//
// Examples:
//
//	go run ./examples/evaluate -model robust/zoo/mnist-robust.safetensors -pubkey robust/zoo/release.pub -suite strong -n 500 -eps 0.1,0.2,0.3
//	go run ./examples/evaluate -model m.safetensors -pubkey m.pub.pem -suite quick   # refuses unsigned or altered files
//	go run ./examples/evaluate -model m.safetensors -images t10k-images-idx3-ubyte.gz -labels t10k-labels-idx1-ubyte.gz
//
// Suites (package attack/suite): quick (FGSM, PGD-20), strong (APGD-CE,
// APGD-T, Square: AutoAttack's settings without FAB-T) and pgd50x10 (PGD-50
// with 10 restarts, step 0.01). Every run also makes the large-epsilon sanity
// check unless -large-eps is negative.
//
// # Sharding over machines
//
// With -shard-count k, the command evaluates only shard i of k, the examples
// [i*n/k, (i+1)*n/k), and writes report-shard-i-of-k.json and its table; i
// is -shard-index or, when that is -1 (the default), the environment
// variable JOB_COMPLETION_INDEX, which Kubernetes sets in each pod of an
// Indexed Job. Every shard must use the same flags but the index. Then
//
//	go run ./examples/evaluate -merge -out results results/report-shard-*.json
//
// merges the k reports into report.json, report.txt and the plots; the merge
// equals a single run's report example by example (eval.Merge). A Job for
// 8 shards, with a volume that every pod and the merge step can reach:
//
//	apiVersion: batch/v1
//	kind: Job
//	metadata:
//	  name: robustness-eval
//	spec:
//	  completionMode: Indexed
//	  completions: 8        # = -shard-count
//	  parallelism: 8        # pods at once; fewer is fine
//	  backoffLimitPerIndex: 2
//	  template:
//	    spec:
//	      restartPolicy: Never
//	      containers:
//	      - name: evaluate
//	        image: registry.example.com/gorobust-evaluate:v1   # this command, built with go build
//	        args: ["-model", "/models/model.safetensors", "-pubkey", "/models/model.pub.pem",
//	               "-suite", "strong", "-eps", "0.1,0.2,0.3", "-shard-count", "8", "-out", "/results"]
//	        resources: {requests: {cpu: "2"}, limits: {cpu: "2"}}
//	        volumeMounts:
//	        - {name: models, mountPath: /models, readOnly: true}
//	        - {name: results, mountPath: /results}
//	      volumes:
//	      - {name: models, persistentVolumeClaim: {claimName: models}}
//	      - {name: results, persistentVolumeClaim: {claimName: eval-results}}
//
// Each pod's GOMAXPROCS should match its CPU limit (Go 1.25 and later read
// the cgroup limit); robust/nn spreads each batch over that many replicas. A
// failed pod reruns its own index only, and since attack seeds depend only
// on -seed, the batch size and the example indices, the rerun gives the
// same shard report.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/eval/plot"
	"github.com/gorobust/gorobust/robust/nn"
)

type options struct {
	model, pubkey          string
	dataDir, images, label string
	suite, eps             string
	n, batch, parallel     int
	workers                int
	seed                   uint64
	largeEps               float64
	shardIndex, shardCount int
	out                    string
	merge, quiet           bool
	meta                   metaFlag
}

// metaFlag collects repeated -meta key=value flags.
type metaFlag map[string]string

func (m metaFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	m[k] = v
	return nil
}

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `evaluate measures how robust a saved model is under a suite of attacks.

Usage:
  evaluate -model FILE [-pubkey KEY] [-suite quick|strong|pgd50x10] [-eps 0.1,0.2,0.3] [flags]
  evaluate -merge [-out DIR] report-shard-*.json

Flags:
`)
		flag.PrintDefaults()
	}
	o := options{meta: metaFlag{}}
	flag.StringVar(&o.model, "model", "", "gorobust model file to evaluate (required unless -merge)")
	flag.StringVar(&o.pubkey, "pubkey", "", "PEM Ed25519 public key; when set, the model file must carry a valid signature by it")
	flag.StringVar(&o.dataDir, "data", "", "directory of MNIST-format IDX files; its test set is used (default: the embedded MNIST test set)")
	flag.StringVar(&o.images, "images", "", "IDX image file (with -labels) instead of -data")
	flag.StringVar(&o.label, "labels", "", "IDX label file (with -images)")
	flag.StringVar(&o.suite, "suite", "quick", "attack suite: quick, strong or pgd50x10")
	flag.StringVar(&o.eps, "eps", "0.1,0.2,0.3", "comma-separated, increasing Linf budgets in pixel units of [0, 1]; fractions such as 8/255 are read exactly")
	flag.IntVar(&o.n, "n", 1000, "evaluate the first n examples (0: all)")
	flag.IntVar(&o.batch, "batch", eval.DefaultBatchSize, "examples per batch (part of the experiment: seeds are drawn per batch)")
	flag.IntVar(&o.parallel, "parallel", 1, "batches evaluated at once")
	flag.IntVar(&o.workers, "workers", 0, "model replicas a batch is split across (0: GOMAXPROCS)")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the randomized attacks")
	flag.Float64Var(&o.largeEps, "large-eps", 0, "budget of the large-epsilon sanity check (0: the whole input range; negative: skip)")
	flag.IntVar(&o.shardIndex, "shard-index", -1, "shard to evaluate (-1: $JOB_COMPLETION_INDEX, or 0)")
	flag.IntVar(&o.shardCount, "shard-count", 1, "number of shards")
	flag.StringVar(&o.out, "out", ".", "directory for the report, table and plots")
	flag.BoolVar(&o.merge, "merge", false, "merge the shard reports named as arguments instead of evaluating")
	flag.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	flag.Var(o.meta, "meta", "key=value recorded in the report's settings (repeatable), e.g. -meta commit=$(git rev-parse HEAD)")
	flag.Parse()
	var err error
	if o.merge {
		if flag.NArg() == 0 {
			usageError("-merge needs the shard reports as arguments")
		}
		err = mergeReports(o, flag.Args())
	} else {
		var j job
		if j, err = checkFlags(o); err != nil {
			usageError("%v", err)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err = run(ctx, o, j)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "evaluate:", err)
		os.Exit(1)
	}
}

// usageError reports a bad invocation as Go's tools do: the message, the
// usage, exit status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "evaluate: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

// job is what the flags ask for, checked before any file is read.
type job struct {
	shard eval.Shard
	eps   []float64
	suite eval.Suite
}

// checkFlags validates every flag of an evaluation.
func checkFlags(o options) (job, error) {
	switch {
	case o.model == "":
		return job{}, errors.New("-model is required")
	case flag.NArg() > 0:
		return job{}, fmt.Errorf("unexpected arguments %q (did you mean -merge?)", flag.Args())
	case (o.images == "") != (o.label == ""):
		return job{}, errors.New("-images and -labels go together")
	case o.images != "" && o.dataDir != "":
		return job{}, errors.New("-data and -images/-labels exclude each other")
	case o.n < 0:
		return job{}, fmt.Errorf("-n = %d, want >= 0 (0: all)", o.n)
	case o.batch < 1:
		return job{}, fmt.Errorf("-batch = %d, want >= 1", o.batch)
	case o.parallel < 1:
		return job{}, fmt.Errorf("-parallel = %d, want >= 1", o.parallel)
	case o.workers < 0:
		return job{}, fmt.Errorf("-workers = %d, want >= 0 (0: GOMAXPROCS)", o.workers)
	}
	shard, err := shardFromFlags(o)
	if err != nil {
		return job{}, err
	}
	eps, err := eval.ParseEpsilons(o.eps)
	if err != nil {
		return job{}, fmt.Errorf("-eps: %w", err)
	}
	s, err := suite.ByName(o.suite, eps...)
	if err != nil {
		return job{}, fmt.Errorf("-suite: %w", err)
	}
	s.Seed, s.LargeEps = o.seed, o.largeEps
	if err := s.Validate(); err != nil {
		return job{}, err
	}
	return job{shard: shard, eps: eps, suite: s}, nil
}

func run(ctx context.Context, o options, j job) error {
	shard, eps, s := j.shard, j.eps, j.suite

	meta := map[string]string{}
	for k, v := range o.meta {
		meta[k] = v
	}
	m, err := loadModel(o, meta)
	if err != nil {
		return err
	}
	ds, err := loadData(o, meta)
	if err != nil {
		return err
	}
	// The command line is not recorded: shards differ in it, and the
	// report's settings already hold everything the results depend on.
	if bi, ok := debug.ReadBuildInfo(); ok {
		meta["command"] = bi.Path
	}

	opts := &eval.EvaluateOptions{BatchSize: o.batch, Examples: o.n, Shard: shard, Parallel: o.parallel, Meta: meta}
	if o.n > ds.Len() {
		opts.Examples = ds.Len()
	}
	var bar *progressbar.ProgressBar
	if !o.quiet {
		opts.Progress = func(p eval.Progress) {
			if bar == nil {
				bar = progressbar.NewOptions(p.Total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(250*time.Millisecond),
					progressbar.OptionSetItsString("runs"), progressbar.OptionShowIts(), progressbar.OptionShowElapsedTimeOnFinish())
			}
			bar.Describe(fmt.Sprintf("%-8s eps %-5v", p.Attack, p.Eps))
			_ = bar.Set(p.Done)
		}
	}
	n := opts.Examples
	if n == 0 {
		n = ds.Len()
	}
	lo, hi := shard.Range(n)
	fmt.Fprintf(os.Stderr, "evaluating %s on examples [%d, %d) with suite %s at eps %v\n", o.model, lo, hi, s.Name, eps)
	r, err := eval.Evaluate(ctx, m, ds, s, opts)
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	if shard.Count > 1 {
		base := fmt.Sprintf("report-shard-%d-of-%d", shard.Index, shard.Count)
		return write(o.out, base, r, false)
	}
	return write(o.out, "report", r, true)
}

// shardFromFlags resolves the shard, reading JOB_COMPLETION_INDEX when
// -shard-index is -1.
func shardFromFlags(o options) (eval.Shard, error) {
	if o.shardCount < 1 {
		return eval.Shard{}, fmt.Errorf("-shard-count %d, want >= 1", o.shardCount)
	}
	i := o.shardIndex
	if i == -1 {
		i = 0
		if v := os.Getenv("JOB_COMPLETION_INDEX"); v != "" && o.shardCount > 1 {
			var err error
			if i, err = strconv.Atoi(v); err != nil {
				return eval.Shard{}, fmt.Errorf("JOB_COMPLETION_INDEX=%q: %w", v, err)
			}
		}
	}
	s := eval.Shard{Index: i, Count: o.shardCount}
	return s, s.Validate()
}

// loadModel loads and, with -pubkey, verifies the model, recording the
// file's SHA-256 in meta.
func loadModel(o options, meta map[string]string) (*nn.Model, error) {
	opts := &nn.LoadOptions{Options: nn.Options{Workers: o.workers}}
	if o.pubkey != "" {
		f, err := os.Open(o.pubkey)
		if err != nil {
			return nil, err
		}
		pub, err := nn.ReadPublicKey(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.pubkey, err)
		}
		opts.PublicKey = pub
	} else {
		fmt.Fprintf(os.Stderr, "warning: %s is not verified: no -pubkey given, so its signature (if any) is not checked\n", o.model)
	}
	m, err := nn.LoadFile(o.model, opts)
	if err != nil {
		return nil, err
	}
	sum, err := fileSHA256(o.model)
	if err != nil {
		return nil, err
	}
	meta["model"] = o.model
	meta["model_sha256"] = sum
	meta["model_signature_verified"] = strconv.FormatBool(o.pubkey != "")
	if o.pubkey != "" {
		meta["model_public_key"] = o.pubkey
	}
	return m, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func loadData(o options, meta map[string]string) (*data.Dataset, error) {
	switch {
	case o.images != "":
		meta["data"] = o.images + " " + o.label
		return data.LoadFiles(o.images, o.label, nil)
	case o.dataDir != "":
		meta["data"] = o.dataDir + " (test set)"
		_, test, err := data.LoadDir(o.dataDir, nil)
		return test, err
	}
	meta["data"] = "embedded MNIST test set (robust/data/mnist; every file's SHA-256 checked on load)"
	return mnist.Test()
}

// mergeReports merges shard reports into one report with table and plots.
func mergeReports(o options, paths []string) error {
	var reps []*eval.Report
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		r, err := eval.ReadReport(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reps = append(reps, r)
	}
	r, err := eval.Merge(reps...)
	if err != nil {
		return err
	}
	return write(o.out, "report", r, true)
}

// write saves base.json and base.txt in dir, prints the table and, with
// plots, saves accuracy.png and accuracy.svg.
func write(dir, base string, r *eval.Report, plots bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		return err
	}
	fmt.Print(table.String())
	files := []string{filepath.Join(dir, base+".json"), filepath.Join(dir, base+".txt")}
	if err := writeFile(files[0], r.WriteJSON); err != nil {
		return err
	}
	if err := os.WriteFile(files[1], []byte(table.String()), 0o644); err != nil {
		return err
	}
	if plots {
		for _, ext := range []string{".png", ".svg"} {
			p := filepath.Join(dir, "accuracy"+ext)
			if err := plot.SavePlot(p, r); err != nil {
				return err
			}
			files = append(files, p)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", strings.Join(files, ", "))
	return nil
}

func writeFile(path string, fn func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(f)
}
