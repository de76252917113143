package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorobust/gorobust/robust"
)

// Evaluate measures the robustness of m on ds under every attack of s at
// every epsilon of s, and returns a Report.
//
// # What it does
//
// The examples [0, n) of ds (n is opts.Examples, or ds.Len()) are cut into
// batches of opts.BatchSize, batch j holding [j*BatchSize, (j+1)*BatchSize).
// For each batch Evaluate computes the logits twice (the stochastic-model and
// probability-output checks) and, for a Differentiable model, the
// cross-entropy and margin gradients at the clean inputs (the gradient
// checks). Then every attack runs at every epsilon, and once more at the
// large-epsilon check, on the examples of the batch that the model
// classifies correctly; misclassified examples count as not robust and are
// not attacked. Evaluate checks that each output lies in the model's Bounds
// and within epsilon of its input, records the model's prediction on it and
// the perturbation's norm, and reports per example, per attack and over the
// per-example worst case of all attacks (each attack already keeps the worst
// case over its own restarts).
//
// Randomized attacks get a fresh seed per batch, attack and epsilon through
// Reseedable (Settings.SeedRule says how it is derived), so a run is reproducible from Suite.Seed and
// the batch size, and no batch's randomness depends on any other batch.
//
// # Sharding
//
// With opts.Shard, only the examples [i*n/k, (i+1)*n/k) of shard i of k are
// reported. A batch that straddles a shard boundary is evaluated whole by
// both neighbouring shards, each keeping its own examples, so every example
// is attacked in exactly the batch, and with exactly the seeds, of a single
// run; Merge of the k shard reports then equals the single run's report
// (all but Environment, Cost and MergedFrom), example by example, on a
// deterministic model. The price is at most two partial batches of extra
// work per shard. To run the shards as a Kubernetes Indexed Job, give the Job
// completions: k and parallelism: k (or fewer), let each pod evaluate shard
// $JOB_COMPLETION_INDEX of k into a report on shared storage, and merge the
// k reports when the Job completes; examples/evaluate does both
// (-shard-count, -merge) and documents a manifest.
//
// # Contracts
//
// m must be safe for concurrent use when opts.Parallel > 1. m and ds are
// only read. Attacks must honour robust.Attack's contract; an output outside
// the bounds or the epsilon ball, or of the wrong shape, is an error, as is
// any error of the model, the dataset or an attack, and the context's
// cancellation: Evaluate then returns a nil report. Evaluate never panics on
// bad data.
func Evaluate(ctx context.Context, m robust.Classifier, ds robust.Dataset, s Suite, opts *EvaluateOptions) (*Report, error) {
	start := time.Now()
	e, err := newEvaluator(m, ds, s, opts)
	if err != nil {
		return nil, err
	}
	e.start = start
	blocks, err := e.run(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{
		Schema:      ReportSchema,
		Environment: environment(start),
		Settings:    e.settings(),
	}
	r.Cost.Runs = make([]RunCost, 0, len(e.eps)*len(s.Attacks))
	for _, eps := range e.eps {
		for _, a := range s.Attacks {
			r.Cost.Runs = append(r.Cost.Runs, RunCost{Attack: a.Name, Eps: eps})
		}
	}
	for _, b := range blocks {
		r.Examples = append(r.Examples, b.examples...)
		r.Cost.Evaluator.add(b.evaluator)
		for i, rc := range b.runs {
			r.Cost.Runs[i].Seconds += rc.Seconds
			r.Cost.Runs[i].Calls.add(rc.Calls)
		}
	}
	if r.Examples == nil {
		r.Examples = []Example{}
	}
	r.Cost.Total = r.Cost.Evaluator
	for _, rc := range r.Cost.Runs {
		r.Cost.Total.add(rc.Calls)
	}
	r.Cost.Seconds = time.Since(start).Seconds()
	summarize(r)
	return r, nil
}

// run evaluates every batch of the shard, opts.Parallel at a time, and
// returns their results in order.
func (e *evaluator) run(ctx context.Context) ([]blockResult, error) {
	first, last := e.begin/e.batch, (e.end+e.batch-1)/e.batch
	if e.begin == e.end {
		return nil, nil
	}
	out := make([]blockResult, last-first)
	e.total = len(out) * len(e.eps) * len(e.suite.Attacks)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(e.parallel, len(out)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				b, err := e.block(ctx, j)
				if err != nil {
					cancel(err)
					continue
				}
				out[j-first] = b
			}
		}()
	}
feed:
	for j := first; j < last; j++ {
		select {
		case jobs <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("eval: Evaluate stopped: %w", err)
		}
		return nil, err
	}
	return out, nil
}

// progress reports one finished attack run.
func (e *evaluator) progress(attack string, eps float64) {
	if e.onProgress == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done++
	e.onProgress(Progress{Done: e.done, Total: e.total, Attack: attack, Eps: eps, Elapsed: time.Since(e.start)})
}
