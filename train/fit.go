package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/nn"
)

// Progress is reported after every batch.
type Progress struct {
	Epoch, Epochs   int // Epoch counts from 0
	Batch, Batches  int // Batch counts from 0
	Step            int // optimizer steps taken, over all epochs
	Loss, Accuracy  float64
	LR              float64
	ImagesPerSecond float64
	ETA             time.Duration
	Skipped         int // batches whose update was dropped
	GradNorm        float64
	ClippedNorm     float64 // the norm the optimizer received
}

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
		return nil, configErr("Fit of a nil model or dataset, want both")
	}
	n := ds.Len()
	if c.Validation >= n {
		return nil, configErr("Trainer.Validation = %d leaves nothing of %d examples to train on, want < %d", c.Validation, n, n)
	}
	trainIdx, valIdx, err := data.Holdout(n, c.Validation, c.Seed)
	if err != nil {
		return nil, err
	}
	st := &state{Opt: newOptState(c.Optimizer, m.ParamInfos()), History: History{Method: c.Method.methodName()}}
	if c.Checkpoint != "" {
		resumed, err := loadCheckpoint(c.Checkpoint, c, n, m, st)
		if err != nil {
			return nil, err
		}
		st.History.Resumed = st.History.Resumed || resumed
	}
	r := &run{cfg: c, m: m, ds: ds, st: st, trainIdx: trainIdx, valIdx: valIdx}
	err = r.loop(ctx)
	if c.Checkpoint != "" {
		if cerr := saveCheckpoint(c.Checkpoint, c, n, m, st); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	h := st.History
	return &h, err
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

// The numbered streams of a run's seed (mix.Stream). Stream 1 is the epoch
// shuffle, which data.EpochRand draws; the numbers are fixed, because
// trained models are reproducible from their seeds only while the streams
// stay bit-identical.
const (
	_ = iota + 1 // 1: the shuffle (data.EpochRand)
	streamAttack
	streamDropout
	streamTRADES
	streamAugment
	streamRollback
)

// batches is the epoch's order of the training examples, in batches.
func (r *run) batches(epoch int) ([][]int, error) {
	bs, err := data.Batches(len(r.trainIdx), r.cfg.BatchSize, data.EpochRand(r.seed(), epoch), false)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		for i, j := range b {
			b[i] = r.trainIdx[j]
		}
	}
	return bs, nil
}

func (r *run) loop(ctx context.Context) error {
	c, st := r.cfg, r.st
	runStart := time.Now()
	runSteps := 0
	for st.Epoch < c.Epochs {
		bs, err := r.batches(st.Epoch)
		if err != nil {
			return err
		}
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
	loss := nn.TrainLoss{Labels: y, Seed: mix.Stream(r.seed(), streamDropout, step)}
	if sd, ok := r.ds.(softLabeled); ok {
		loss = nn.TrainLoss{Kind: nn.SoftTargets, Soft: sd.Soft(idx), Seed: loss.Seed}
	}
	in := x
	cleanLoss, cleanFraction := loss, 0.0 // Adversarial's weighted clean step
	switch meth := c.Method.(type) {
	case Standard:
		loss.Temperature = meth.Temperature
	case Adversarial:
		a := meth.Attack
		if rs, ok := a.(robust.Reseedable); ok {
			a = rs.WithSeed(mix.Stream(r.seed(), streamAttack, step))
		}
		if in, err = a.Perturb(ctx, m, x, y); err != nil {
			return 0, 0, fmt.Errorf("train: attack at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		cleanFraction = meth.CleanFraction
	case TRADES:
		adv, err := meth.adversary(ctx, m, x, mix.Stream(r.seed(), streamTRADES, step))
		if err != nil {
			return 0, 0, fmt.Errorf("train: TRADES attack at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		loss = nn.TrainLoss{Kind: nn.TRADES, Labels: y, Adv: adv, Beta: meth.Beta, Seed: loss.Seed}
	}
	res, err := m.TrainStep(ctx, in, loss)
	if errors.Is(err, robust.ErrNonFinite) {
		return 0, 0, r.nonFinite("training input")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("train: step at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
	}
	total, grads := res.Loss, toFloat64s(res.Grads)
	if cleanFraction > 0 {
		cres, err := m.TrainStep(ctx, x, cleanLoss)
		if err != nil {
			return 0, 0, fmt.Errorf("train: clean step at epoch %d, batch %d: %w", st.Epoch, st.Batch, err)
		}
		f := cleanFraction
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

func toFloat64s(ps []nn.Param) [][]float64 {
	out := make([][]float64, len(ps))
	for i, p := range ps {
		out[i], _ = tensors.Float64s(p.Value)
	}
	return out
}
