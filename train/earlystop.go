package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/robust"
)

// DefaultMaxDrop is EarlyStop.MaxDrop when it is 0: Wong et al.'s
// early-stop threshold.
const DefaultMaxDrop = 0.2

// EarlyStop guards against catastrophic overfitting (the sudden loss of
// robustness that FGSM-RS training can suffer): after every epoch it
// measures robust accuracy on the held-out examples (Trainer.Validation)
// with Attack and, if it fell by more than MaxDrop below the best epoch's
// (a collapse), restores the best epoch's weights and stops, as Wong et al.
// do, or, while Rollbacks remain, rewinds and trains the later epochs
// again. It carries its own attack, so it works with every Method.
type EarlyStop struct {
	// Attack measures robust accuracy; it is required. A randomized attack
	// that implements robust.Reseedable draws fresh starts every epoch.
	Attack robust.Attack
	// MaxDrop is the tolerated fall in robust accuracy, in (0, 1]; if 0,
	// DefaultMaxDrop is used.
	MaxDrop float64
	// Rollbacks is how many collapses rewind training instead of stopping
	// it: the weights and optimizer state of the best epoch are restored
	// and the epochs after it are trained again under the same learning
	// rate schedule, with fresh randomness (shuffles, random starts and
	// dropout masks drawn from a seed derived from Seed and the rollback
	// count). Catastrophic overfitting is a chance event, so a retry
	// usually avoids it, and training still reaches the end of its
	// schedule, where a cyclic schedule's clean accuracy is made; stopping
	// at the collapse keeps a model from the middle of the schedule. Each
	// rollback costs the epochs it repeats. A collapse after the last
	// rollback restores the best epoch and stops. If 0, the first collapse
	// stops training.
	Rollbacks int
}

func (e *EarlyStop) validate() error {
	if e.Attack == nil {
		return configErr("EarlyStop.Attack = nil, want an attack (e.g. attack.PGD{Eps: 0.3, Steps: 10})")
	}
	if err := validateAttack("EarlyStop.Attack", e.Attack); err != nil {
		return err
	}
	if !(e.MaxDrop >= 0 && e.MaxDrop <= 1) {
		return configErr("EarlyStop.MaxDrop = %v, want a value in (0, 1] (0 means DefaultMaxDrop)", e.MaxDrop)
	}
	if e.Rollbacks < 0 {
		return configErr("EarlyStop.Rollbacks = %d, want >= 0", e.Rollbacks)
	}
	return nil
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
