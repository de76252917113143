package train

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// Defaults of Trainer.
const (
	DefaultEpochs     = 10
	DefaultBatchSize  = 100
	DefaultValidation = 1000 // examples held out when EarlyStop is set and Validation is 0
)

// Trainer configures training; Fit runs it. The zero value of every field
// but Schedule (required) takes the default its comment names. Validate
// rejects every setting that training would not read as given, so a
// Trainer that validates trains as it reads.
type Trainer struct {
	// Method is the training method with its settings: Standard,
	// Adversarial (PGD-AT, FGSM-RS) or TRADES. If nil, Standard{}.
	Method Method
	// Epochs; if 0, DefaultEpochs.
	Epochs int
	// BatchSize; if 0, DefaultBatchSize. The last batch of an epoch is
	// smaller when BatchSize does not divide the training set.
	BatchSize int
	// Optimizer; if nil, Adam with its defaults.
	Optimizer Optimizer
	// Schedule gives the learning rate; it is required.
	Schedule Schedule
	// ClipNorm rescales the gradient of all parameters together so that its
	// L2 norm is at most ClipNorm; 0 disables it.
	ClipNorm float64
	// ClipValue clamps every gradient entry to [-ClipValue, ClipValue]; 0
	// disables it. It is applied before ClipNorm.
	ClipValue float64
	// NonFinite says what happens to a batch with a non-finite input, loss
	// or gradient; the zero value is SkipStep.
	NonFinite NonFinitePolicy
	// Validation is the number of training examples held out for the
	// per-epoch validation figures and early stopping, drawn with Seed by
	// data.Holdout (the examples data.Split holds out for the same seed and
	// size). If 0, none are held out unless EarlyStop is set, which holds
	// out DefaultValidation.
	Validation int
	// EarlyStop, if not nil, measures robust accuracy on the held-out
	// examples after every epoch and acts on a collapse; it works with
	// every Method.
	EarlyStop *EarlyStop
	// Seed drives shuffling, attack random starts and dropout.
	Seed uint64
	// Checkpoint is a file Fit writes atomically every CheckpointEvery
	// batches (0: at the end of every epoch), when cancelled, and at the end.
	// If it exists when Fit starts, Fit resumes from it.
	Checkpoint string
	// CheckpointEvery is the number of batches between checkpoints within
	// an epoch; it needs Checkpoint.
	CheckpointEvery int
	// Augment, if not nil, transforms every clean training batch before
	// the attack and the step, for example with Gaussian noise for
	// randomized smoothing (defense/smoothing). It must not modify x and
	// must draw its randomness from seed, which Fit derives from Seed and the
	// step so that resumed trainings stay exact. Validation data is not
	// augmented.
	Augment func(ctx context.Context, x *tensor.Dense, seed uint64) (*tensor.Dense, error)
	// Progress, if not nil, is called after every batch.
	Progress func(Progress)
}

// configErr reports an invalid setting in the one error shape of gorobust,
// "train: Type.Field = value, want ...", wrapping robust.ErrConfig.
func configErr(format string, args ...any) error {
	return fmt.Errorf("train: "+format+": %w", append(args, robust.ErrConfig)...)
}

func (c Trainer) withDefaults() Trainer {
	switch m := c.Method.(type) {
	case nil:
		c.Method = Standard{}.withDefaults()
	case Standard:
		c.Method = m.withDefaults()
	case TRADES:
		c.Method = m.withDefaults()
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Optimizer == nil {
		c.Optimizer = Adam{}
	}
	if c.Validation == 0 && c.EarlyStop != nil {
		c.Validation = DefaultValidation
	}
	if c.EarlyStop != nil && c.EarlyStop.MaxDrop == 0 {
		es := *c.EarlyStop
		es.MaxDrop = DefaultMaxDrop
		c.EarlyStop = &es
	}
	return c
}

// Validate reports the first invalid setting of c as an error wrapping
// robust.ErrConfig.
func (c Trainer) Validate() error {
	switch m := c.Method.(type) {
	case nil:
	case Standard, Adversarial, TRADES:
		if err := m.validate(); err != nil {
			return err
		}
	default:
		return configErr("Trainer.Method = %T, want a Standard, Adversarial or TRADES value (not a pointer)", c.Method)
	}
	if c.Epochs < 0 {
		return configErr("Trainer.Epochs = %d, want >= 0 (0 means DefaultEpochs)", c.Epochs)
	}
	if c.BatchSize < 0 {
		return configErr("Trainer.BatchSize = %d, want >= 0 (0 means DefaultBatchSize)", c.BatchSize)
	}
	if c.Optimizer != nil {
		if err := c.Optimizer.validate(); err != nil {
			return err
		}
	}
	if c.Schedule == nil {
		return configErr("Trainer.Schedule = nil, want a schedule (e.g. Constant{Rate: 0.01})")
	}
	if err := c.Schedule.validate(); err != nil {
		return err
	}
	if !(c.ClipNorm >= 0) || math.IsInf(c.ClipNorm, 0) {
		return configErr("Trainer.ClipNorm = %v, want a finite value >= 0 (0 disables it)", c.ClipNorm)
	}
	if !(c.ClipValue >= 0) || math.IsInf(c.ClipValue, 0) {
		return configErr("Trainer.ClipValue = %v, want a finite value >= 0 (0 disables it)", c.ClipValue)
	}
	if c.NonFinite != SkipStep && c.NonFinite != Stop {
		return configErr("Trainer.NonFinite = %d, want SkipStep or Stop", int(c.NonFinite))
	}
	if c.Validation < 0 {
		return configErr("Trainer.Validation = %d, want >= 0", c.Validation)
	}
	if c.CheckpointEvery < 0 {
		return configErr("Trainer.CheckpointEvery = %d, want >= 0 (0 means at the end of every epoch)", c.CheckpointEvery)
	}
	if c.CheckpointEvery > 0 && c.Checkpoint == "" {
		return configErr("Trainer.CheckpointEvery = %d without a Checkpoint file, want 0 or a Checkpoint", c.CheckpointEvery)
	}
	if c.EarlyStop != nil {
		if err := c.EarlyStop.validate(); err != nil {
			return err
		}
	}
	return nil
}
