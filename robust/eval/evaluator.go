package eval

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// seedRule is Settings.SeedRule.
const seedRule = "each batch j (examples [j*batch_size, (j+1)*batch_size) of the evaluation) runs each robust.Reseedable " +
	"attack with a seed derived from (seed, attack name, eps, j): SplitMix64 over seed, FNV-1a of the name, the eps bits and j"

// evaluator holds one Evaluate call's resolved settings and its progress.
type evaluator struct {
	model   robust.Classifier
	data    robust.Dataset
	suite   Suite
	bounds  robust.Bounds
	classes int
	shape   [3]int // C, H, W

	batch, parallel int
	n, begin, end   int
	shard           Shard
	eps             []float64 // the suite's epsilons, then the large one if any
	large           float64
	meta            map[string]string

	start      time.Time
	onProgress func(Progress)
	mu         sync.Mutex
	done       int
	total      int
}

func newEvaluator(m robust.Classifier, ds robust.Dataset, s Suite, opts *EvaluateOptions) (*evaluator, error) {
	var o EvaluateOptions
	if opts != nil {
		o = *opts
	}
	if m == nil || ds == nil {
		return nil, fmt.Errorf("eval: Evaluate needs a model and a dataset: %w", robust.ErrConfig)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b := m.Bounds()
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("eval: model bounds: %w", err)
	}
	k := m.NumClasses()
	if k < 2 {
		return nil, fmt.Errorf("eval: model has %d classes, want at least 2: %w", k, robust.ErrConfig)
	}
	if o.BatchSize < 0 || o.Examples < 0 || o.Parallel < 0 {
		return nil, fmt.Errorf("eval: EvaluateOptions = {BatchSize: %d, Examples: %d, Parallel: %d}, want each >= 0 (0 means the default): %w", o.BatchSize, o.Examples, o.Parallel, robust.ErrConfig)
	}
	if err := o.Shard.Validate(); err != nil {
		return nil, err
	}
	n := ds.Len()
	if o.Examples > n {
		return nil, fmt.Errorf("eval: EvaluateOptions.Examples = %d, want at most the dataset's %d examples: %w", o.Examples, n, robust.ErrConfig)
	}
	if o.Examples > 0 {
		n = o.Examples
	}
	if n == 0 {
		return nil, fmt.Errorf("eval: Evaluate on an empty dataset: %w", robust.ErrConfig)
	}
	e := &evaluator{
		model: m, data: ds, suite: s, bounds: b, classes: k,
		batch: o.BatchSize, parallel: o.Parallel, n: n, shard: o.Shard,
		meta: maps.Clone(o.Meta), onProgress: o.Progress,
	}
	if e.batch == 0 {
		e.batch = DefaultBatchSize
	}
	e.parallel = max(e.parallel, 1)
	if e.shard.Count == 0 {
		e.shard.Count = 1
	}
	e.begin, e.end = e.shard.Range(n)
	// One example fixes the input shape, which the L2 large epsilon and the
	// report need before any batch runs.
	x, _, err := ds.Batch([]int{0})
	if err != nil {
		return nil, fmt.Errorf("eval: reading example 0: %w", err)
	}
	if _, _, err := tensors.Images(x); err != nil {
		return nil, fmt.Errorf("eval: example 0: %w", err)
	}
	sh := x.Shape()
	e.shape = [3]int{sh[1], sh[2], sh[3]}
	e.large = s.largeEps(b, sh[1]*sh[2]*sh[3])
	e.eps = append([]float64(nil), s.Epsilons...)
	if e.large > 0 {
		if err := e.checkLarge(); err != nil {
			return nil, err
		}
		e.eps = append(e.eps, e.large)
	}
	return e, nil
}

// checkLarge validates every attack at the large epsilon.
func (e *evaluator) checkLarge() error {
	if last := e.suite.Epsilons[len(e.suite.Epsilons)-1]; e.large <= last {
		return fmt.Errorf("eval: Suite.LargeEps = %v, want more than the largest epsilon %v (or < 0 to skip the check): %w", e.large, last, robust.ErrConfig)
	}
	for _, a := range e.suite.Attacks {
		if err := checkAttack(a, e.large); err != nil {
			return err
		}
	}
	return nil
}

// settings returns the report's Settings.
func (e *evaluator) settings() Settings {
	s := Settings{
		Suite:      e.suite.Name,
		Norm:       e.suite.norm(),
		Epsilons:   append([]float64(nil), e.suite.Epsilons...),
		LargeEps:   e.large,
		Seed:       e.suite.Seed,
		SeedRule:   seedRule,
		BatchSize:  e.batch,
		DatasetLen: e.data.Len(),
		Examples:   e.n,
		Shard:      ShardRange{Index: e.shard.Index, Count: e.shard.Count, Begin: e.begin, End: e.end},
		Model: ModelInfo{
			Type:       fmt.Sprintf("%T", e.model),
			Classes:    e.classes,
			Bounds:     [2]float32{e.bounds.Min, e.bounds.Max},
			InputShape: e.shape[:],
		},
		Meta: maps.Clone(e.meta),
	}
	_, s.Model.Differentiable = e.model.(robust.Differentiable)
	for _, a := range e.suite.Attacks {
		info := AttackInfo{Name: a.Name, BlackBox: a.BlackBox}
		for _, eps := range e.eps {
			atk := a.New(eps)
			if _, ok := atk.(robust.Reseedable); ok {
				info.Reseeded = true
			}
			info.Configs = append(info.Configs, fmt.Sprintf("%T%+v", atk, atk))
		}
		s.Attacks = append(s.Attacks, info)
	}
	return s
}
