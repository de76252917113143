package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/nn"
)

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`     // mean training loss over applied steps
	Accuracy float64 `json:"accuracy"` // on the examples trained on (adversarial ones for PGDAT/FGSMRS)
	LR       float64 `json:"lr"`       // at the epoch's last batch
	Skipped  int     `json:"skipped"`  // batches dropped for non-finite values
	// Validated reports whether the validation figures were measured.
	Validated         bool    `json:"validated"`
	ValAccuracy       float64 `json:"val_accuracy"`
	ValRobust         float64 `json:"val_robust_accuracy"` // under EarlyStop.Attack, if set
	DurationSeconds   float64 `json:"duration_seconds"`
	ImagesPerSecond   float64 `json:"images_per_second"`
	ValRobustMeasured bool    `json:"val_robust_measured"`
	// Collapsed marks an epoch whose robust accuracy fell by more than
	// EarlyStop.MaxDrop; its weights were discarded.
	Collapsed bool `json:"collapsed,omitempty"`
}

// History is what Fit did.
type History struct {
	Method       string       `json:"method"`
	Epochs       []EpochStats `json:"epochs"`
	Steps        int          `json:"steps"`
	Skipped      int          `json:"skipped"`
	EarlyStopped bool         `json:"early_stopped"`
	// BestEpoch is the epoch whose weights the model holds after an early
	// stop.
	BestEpoch int  `json:"best_epoch"`
	Resumed   bool `json:"resumed"`
	// Rollbacks counts the collapses that rewound training to the best
	// epoch (EarlyStop.Rollbacks). Epochs lists every epoch trained,
	// including the discarded ones, in order.
	Rollbacks int `json:"rollbacks"`
}

// NonFiniteError reports a NaN or infinity in a batch, loss or gradient
// under the Stop policy. It wraps robust.ErrNonFinite.
type NonFiniteError struct {
	Epoch, Batch int
	What         string
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("train: non-finite %s at epoch %d, batch %d", e.What, e.Epoch, e.Batch)
}

func (e *NonFiniteError) Unwrap() error { return robust.ErrNonFinite }

// state is everything a checkpoint must hold to resume exactly.
type state struct {
	Epoch, Batch, Step int
	// Running sums of the current epoch.
	LossSum           float64
	Correct, Seen     int
	Applied, Skipped  int
	History           History
	Opt               *optState
	BestRobust        float64
	HaveBest          bool
	Best              [][]float64 // weights of the best epoch, early stopping only
	BestOpt           *optState   // optimizer state of the best epoch (its Step is that epoch's Step)
	EpochSecondsSoFar float64
}

// Fit trains m on ds. It returns the history, also on error (then it
// describes what was done). Cancelling ctx stops at a batch boundary, after a
// checkpoint is written when Checkpoint is set, with an error wrapping
// ctx.Err().
func (c Trainer) Fit(ctx context.Context, m Model, ds robust.Dataset) (*History, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	if m == nil || ds == nil {
		return nil, fmt.Errorf("%w: train: nil model or dataset", robust.ErrConfig)
	}
	n := ds.Len()
	if c.Validation >= n {
		return nil, fmt.Errorf("%w: train: Validation %d leaves nothing of %d examples to train on", robust.ErrConfig, c.Validation, n)
	}
	trainIdx, valIdx := holdout(n, c.Validation, c.Seed)
	st := &state{Opt: newOptState(c.Optimizer, m.ParamInfos()), History: History{Method: c.Method.String()}}
	if c.Checkpoint != "" {
		resumed, err := loadCheckpoint(c.Checkpoint, c, n, m, st)
		if err != nil {
			return nil, err
		}
		st.History.Resumed = st.History.Resumed || resumed
	}
	r := &run{cfg: c, m: m, ds: ds, st: st, trainIdx: trainIdx, valIdx: valIdx}
	err := r.loop(ctx)
	if c.Checkpoint != "" {
		if cerr := saveCheckpoint(c.Checkpoint, c, n, m, st); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	h := st.History
	return &h, err
}

// holdout splits 0..n-1 into training and validation indices, drawn with
// seed; both keep ascending order.
func holdout(n, v int, seed uint64) (train, val []int) {
	if v == 0 {
		train = make([]int, n)
		for i := range train {
			train[i] = i
		}
		return train, nil
	}
	perm := rand.New(rand.NewPCG(seed, 0x7a11)).Perm(n)
	isVal := make([]bool, n)
	for _, i := range perm[:v] {
		isVal[i] = true
	}
	for i := 0; i < n; i++ {
		if isVal[i] {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val
}

type run struct {
	cfg      Trainer
	m        Model
	ds       robust.Dataset
	st       *state
	trainIdx []int
	valIdx   []int
}

// seed is the root of the current attempt's random streams: the Trainer's
// Seed, re-derived after every rollback so that the epochs trained again
// draw fresh shuffles, random starts and dropout masks.
func (r *run) seed() uint64 {
	if n := r.st.History.Rollbacks; n > 0 {
		return mix.Stream(r.cfg.Seed, streamRollback, uint64(n))
	}
	return r.cfg.Seed
}

const (
	streamShuffle = iota + 1
	streamAttack
	streamDropout
	streamTRADES
	streamAugment
	streamRollback
)

func (r *run) batches(epoch int) [][]int {
	idx := append([]int(nil), r.trainIdx...)
	rng := rand.New(rand.NewPCG(mix.Stream(r.seed(), streamShuffle, uint64(epoch)), 0))
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	var out [][]int
	for a := 0; a < len(idx); a += r.cfg.BatchSize {
		out = append(out, idx[a:min(a+r.cfg.BatchSize, len(idx))])
	}
	return out
}

func (r *run) loop(ctx context.Context) error {
	c, st := r.cfg, r.st
	runStart := time.Now()
	runSteps := 0
	for st.Epoch < c.Epochs {
		bs := r.batches(st.Epoch)
		epochStart := time.Now().Add(-time.Duration(st.EpochSecondsSoFar * float64(time.Second)))
		for st.Batch < len(bs) {
			b := st.Batch
			if err := ctx.Err(); err != nil {
				st.EpochSecondsSoFar = time.Since(epochStart).Seconds()
				return fmt.Errorf("train: stopped at epoch %d, batch %d: %w", st.Epoch, b, err)
			}
			lr := c.Schedule.LR(float64(st.Epoch)+float64(b+1)/float64(len(bs)), float64(c.Epochs))
			norm, clipped, err := r.batch(ctx, bs[b], lr)
			if err != nil {
				return err
			}
			st.Batch++ // from here on, a checkpoint resumes after this batch
			runSteps++
			if c.Progress != nil {
				elapsed := time.Since(runStart)
				left := (c.Epochs-st.Epoch-1)*len(bs) + len(bs) - st.Batch
				seen := float64(st.Seen)
				c.Progress(Progress{
					Epoch: st.Epoch, Epochs: c.Epochs, Batch: b, Batches: len(bs), Step: st.Step,
					Loss: st.LossSum / math.Max(1, float64(st.Applied)), Accuracy: float64(st.Correct) / math.Max(1, seen),
					LR: lr, ImagesPerSecond: seen / time.Since(epochStart).Seconds(),
					ETA:     time.Duration(float64(elapsed) / float64(runSteps) * float64(left)),
					Skipped: st.History.Skipped, GradNorm: norm, ClippedNorm: clipped,
				})
			}
			if c.Checkpoint != "" && c.CheckpointEvery > 0 && st.Batch%c.CheckpointEvery == 0 && st.Batch < len(bs) {
				st.EpochSecondsSoFar = time.Since(epochStart).Seconds()
				if err := saveCheckpoint(c.Checkpoint, c, r.ds.Len(), r.m, st); err != nil {
					return err
				}
			}
		}
		lastLR := c.Schedule.LR(float64(st.Epoch+1), float64(c.Epochs))
		stop, err := r.endEpoch(ctx, time.Since(epochStart), lastLR)
		if err != nil {
			return err
		}
		st.Epoch, st.Batch = st.Epoch+1, 0
		if stop {
			st.Epoch = c.Epochs
			return nil
		}
		if c.Checkpoint != "" && st.Epoch < c.Epochs {
			if err := saveCheckpoint(c.Checkpoint, c, r.ds.Len(), r.m, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// nonFinite applies the policy to a non-finite batch, loss or gradient.
func (r *run) nonFinite(what string) error {
	if r.cfg.NonFinite == Stop {
		return &NonFiniteError{Epoch: r.st.Epoch, Batch: r.st.Batch, What: what}
	}
	r.st.Skipped++
	r.st.History.Skipped++
	return nil
}

// batch trains on one batch and returns the gradient norm before and after
// clipping.
func (r *run) batch(ctx context.Context, idx []int, lr float64) (float64, float64, error) {
	c, st, m := r.cfg, r.st, r.m
	x, y, err := r.ds.Batch(idx)
	if err != nil {
		return 0, 0, fmt.Errorf("train: batch: %w", err)
	}
	_, xd, err := tensors.Images(x)
	if err != nil {
		return 0, 0, fmt.Errorf("train: batch: %w", err)
	}
	if !finite32(xd) {
		return 0, 0, r.nonFinite("input")
	}
	step := uint64(st.Step)
	if c.Augment != nil {
		if x, err = c.Augment(ctx, x, mix.Stream(r.seed(), streamAugment, step)); err != nil {
			return 0, 0, fmt.Errorf("train: augment at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		if _, xd, err = tensors.Images(x); err != nil {
			return 0, 0, fmt.Errorf("train: augment: %w", err)
		}
		if !finite32(xd) {
			return 0, 0, r.nonFinite("augmented input")
		}
	}
	loss := nn.TrainLoss{Labels: y, Temperature: c.Temperature, Seed: mix.Stream(r.seed(), streamDropout, step)}
	if sd, ok := r.ds.(softLabeled); ok {
		loss = nn.TrainLoss{Kind: nn.SoftTargets, Soft: sd.Soft(idx), Temperature: c.Temperature, Seed: loss.Seed}
	}
	in := x
	var cleanLoss *nn.TrainLoss
	switch c.Method {
	case PGDAT, FGSMRS:
		a := c.Attack
		if rs, ok := a.(robust.Reseedable); ok {
			a = rs.WithSeed(mix.Stream(r.seed(), streamAttack, step))
		}
		if in, err = a.Perturb(ctx, m, x, y); err != nil {
			return 0, 0, fmt.Errorf("train: attack at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		if c.CleanFraction > 0 {
			cl := loss
			cleanLoss = &cl
		}
	case TRADES:
		adv, err := tradesAdversary(ctx, m, x, c.TRADES, mix.Stream(r.seed(), streamTRADES, step))
		if err != nil {
			return 0, 0, fmt.Errorf("train: TRADES attack at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		loss = nn.TrainLoss{Kind: nn.TRADES, Labels: y, Adv: adv, Beta: c.TRADES.Beta, Seed: loss.Seed}
	}
	res, err := m.TrainStep(ctx, in, loss)
	if errors.Is(err, robust.ErrNonFinite) {
		return 0, 0, r.nonFinite("training input")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("train: step at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
	}
	total, grads := res.Loss, toFloat64s(res.Grads)
	if cleanLoss != nil {
		cres, err := m.TrainStep(ctx, x, *cleanLoss)
		if err != nil {
			return 0, 0, fmt.Errorf("train: clean step at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		f := c.CleanFraction
		total = (1-f)*total + f*cres.Loss
		cg := toFloat64s(cres.Grads)
		for i := range grads {
			for j := range grads[i] {
				grads[i][j] = (1-f)*grads[i][j] + f*cg[i][j]
			}
		}
	}
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return 0, 0, r.nonFinite("loss")
	}
	norm, clipped, ok := clip(grads, c.ClipValue, c.ClipNorm)
	if !ok {
		return norm, clipped, r.nonFinite("gradient")
	}
	if err := st.Opt.apply(m, c.Optimizer, grads, lr); err != nil {
		return 0, 0, err
	}
	st.Step++
	st.Applied++
	st.LossSum += total
	for i, p := range res.Predicted {
		if p == y[i] {
			st.Correct++
		}
	}
	st.Seen += len(y)
	return norm, clipped, nil
}

func finite32(d []float32) bool {
	for _, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func toFloat64s(ps []nn.Param) [][]float64 {
	out := make([][]float64, len(ps))
	for i, p := range ps {
		out[i], _ = tensors.Float64s(p.Value)
	}
	return out
}

// clip clamps every entry to [-value, value] (value > 0), then rescales all
// gradients together to an L2 norm of at most norm (norm > 0). It returns the
// norm before and after, and false when a gradient is not finite.
func clip(grads [][]float64, value, norm float64) (before, after float64, ok bool) {
	sum := 0.0
	for _, g := range grads {
		for _, v := range g {
			sum += v * v
		}
	}
	before = math.Sqrt(sum)
	if math.IsNaN(before) || math.IsInf(before, 0) {
		return before, before, false
	}
	if value > 0 {
		sum = 0
		for _, g := range grads {
			for j, v := range g {
				g[j] = math.Max(-value, math.Min(value, v))
				sum += g[j] * g[j]
			}
		}
	}
	after = math.Sqrt(sum)
	if norm > 0 && after > norm {
		s := norm / after
		for _, g := range grads {
			for j := range g {
				g[j] *= s
			}
		}
		after = norm
	}
	return before, after, true
}

// endEpoch records the epoch, runs validation and early stopping, and
// reports whether training must stop.
func (r *run) endEpoch(ctx context.Context, d time.Duration, lr float64) (bool, error) {
	c, st := r.cfg, r.st
	es := EpochStats{
		Epoch: st.Epoch, Loss: st.LossSum / math.Max(1, float64(st.Applied)),
		Accuracy: float64(st.Correct) / math.Max(1, float64(st.Seen)), LR: lr, Skipped: st.Skipped,
		DurationSeconds: d.Seconds(), ImagesPerSecond: float64(st.Seen) / d.Seconds(),
	}
	st.LossSum, st.Correct, st.Seen, st.Applied, st.Skipped, st.EpochSecondsSoFar = 0, 0, 0, 0, 0, 0
	stop := false
	if len(r.valIdx) > 0 {
		var atk robust.Attack
		if c.EarlyStop != nil {
			atk = c.EarlyStop.Attack
			if rs, ok := atk.(robust.Reseedable); ok {
				atk = rs.WithSeed(mix.Stream(r.seed(), streamAttack, uint64(1<<40+st.Epoch)))
			}
		}
		clean, rob, err := Accuracy(ctx, r.m, r.ds, r.valIdx, atk, c.BatchSize)
		if err != nil {
			return false, fmt.Errorf("train: validation after epoch %d: %w", st.Epoch, err)
		}
		es.Validated, es.ValAccuracy = true, clean
		if c.EarlyStop != nil {
			es.ValRobust, es.ValRobustMeasured = rob, true
			switch {
			case !st.HaveBest || rob >= st.BestRobust:
				st.HaveBest, st.BestRobust, st.History.BestEpoch = true, rob, st.Epoch
				st.Best = toFloat64s(r.m.Params())
				st.BestOpt = st.Opt.clone()
			case rob < st.BestRobust-c.EarlyStop.MaxDrop:
				if err := restore(r.m, st.Best); err != nil {
					return false, err
				}
				es.Collapsed = true
				if st.History.Rollbacks < c.EarlyStop.Rollbacks {
					// Rewind: the loop goes on with the epoch after the best.
					st.History.Rollbacks++
					st.Opt = st.BestOpt.clone()
					st.Step = st.Opt.Step
					st.Epoch = st.History.BestEpoch
				} else {
					st.History.EarlyStopped = true
					stop = true
				}
			}
		}
	}
	st.History.Epochs = append(st.History.Epochs, es)
	st.History.Steps = st.Step
	return stop, nil
}

// restore sets the model's weights from float64 values.
func restore(m Model, w [][]float64) error {
	ps := m.Params()
	for i := range ps {
		ps[i].Value = tensor.New(tensor.WithShape(ps[i].Shape...), tensor.WithBacking(append([]float64(nil), w[i]...)))
	}
	return m.SetParams(ps)
}

// Accuracy returns the clean accuracy of m on the examples idx of ds and,
// when atk is not nil, the accuracy on atk's adversarial examples (clean
// mistakes count as not robust).
func Accuracy(ctx context.Context, m robust.Classifier, ds robust.Dataset, idx []int, atk robust.Attack, batch int) (clean, rob float64, err error) {
	if len(idx) == 0 || batch < 1 {
		return 0, 0, fmt.Errorf("%w: train: Accuracy of %d examples in batches of %d", robust.ErrConfig, len(idx), batch)
	}
	nc, nr := 0, 0
	for a := 0; a < len(idx); a += batch {
		x, y, err := ds.Batch(idx[a:min(a+batch, len(idx))])
		if err != nil {
			return 0, 0, err
		}
		okClean, err := correct(ctx, m, x, y)
		if err != nil {
			return 0, 0, err
		}
		okAdv := okClean
		if atk != nil {
			xa, err := atk.Perturb(ctx, m, x, y)
			if err != nil {
				return 0, 0, err
			}
			if okAdv, err = correct(ctx, m, xa, y); err != nil {
				return 0, 0, err
			}
		}
		for i := range y {
			if okClean[i] {
				nc++
				if okAdv[i] {
					nr++
				}
			}
		}
	}
	return float64(nc) / float64(len(idx)), float64(nr) / float64(len(idx)), nil
}

func correct(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) ([]bool, error) {
	z, err := m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	p, err := tensors.Argmax(z)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(y))
	for i := range y {
		out[i] = p[i] == y[i]
	}
	return out, nil
}
