package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/nn"
	"gorgonia.org/tensor"
)

// Model is what Fit trains; *nn.Model implements it.
type Model interface {
	robust.Differentiable
	TrainStep(ctx context.Context, x *tensor.Dense, loss nn.TrainLoss) (nn.StepResult, error)
	Update(fn func(ps []nn.Param) error) error
	Params() []nn.Param
	SetParams(ps []nn.Param) error
	ParamInfos() []nn.ParamInfo
}

var _ Model = (*nn.Model)(nil)

// Method is a training method.
type Method int

const (
	// Standard trains on clean examples.
	Standard Method = iota
	// PGDAT trains on the examples Trainer.Attack makes (Madry et al. 2018,
	// "Towards Deep Learning Models Resistant to Adversarial Attacks",
	// https://arxiv.org/abs/1706.06083); use a multi-step PGD attack.
	PGDAT
	// FGSMRS is PGDAT with a single-step attack from a random start (Wong,
	// Rice and Kolter 2020, "Fast is better than free",
	// https://arxiv.org/abs/2001.03994): Trainer.Attack should be
	// attack.FGSMRS, whose unclipped random start is what keeps single-step
	// training from catastrophic overfitting. Set EarlyStop to guard against
	// it anyway.
	FGSMRS
	// TRADES minimises CE(f(x), y) + beta * KL(f(x) || f(x')) where x'
	// maximises the KL term (Zhang et al. 2019, https://arxiv.org/abs/1901.08573).
	TRADES
)

func (m Method) String() string {
	switch m {
	case Standard:
		return "standard"
	case PGDAT:
		return "pgd-at"
	case FGSMRS:
		return "fgsm-rs"
	case TRADES:
		return "trades"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// NonFinitePolicy says what Fit does when a loss or gradient is not finite.
type NonFinitePolicy int

const (
	// SkipStep drops the batch's update and counts it in the history.
	SkipStep NonFinitePolicy = iota
	// Stop ends training with a *NonFiniteError.
	Stop
)

// Defaults of Trainer.
const (
	DefaultEpochs     = 10
	DefaultBatchSize  = 100
	DefaultTRADESBeta = 6.0 // the TRADES paper's CIFAR-10 setting; MNIST used 1
	DefaultTRADESStep = 10  // TRADES inner-maximisation steps
	DefaultValidation = 1000
	DefaultMaxDrop    = 0.2 // Wong et al.'s early-stop threshold
)

// TRADESConfig configures the TRADES inner maximisation: Linf PGD on the KL
// term from x + 0.001*N(0, 1), as in the reference implementation.
type TRADESConfig struct {
	// Eps is the Linf radius; it must be > 0.
	Eps float64
	// Steps is the number of PGD steps; if 0, DefaultTRADESStep is used.
	Steps int
	// StepSize is the PGD step; if 0, 2.5*Eps/Steps is used.
	StepSize float64
	// Beta weighs the KL term; if 0, DefaultTRADESBeta is used.
	Beta float64
}

// EarlyStop guards FGSM-RS against catastrophic overfitting: after every
// epoch it measures robust accuracy on the held-out examples with Attack
// and, if it fell by more than MaxDrop below the best epoch's (a collapse),
// restores the best epoch's weights and stops, as Wong et al. do, or, while
// Rollbacks remain, rewinds and trains the later epochs again.
type EarlyStop struct {
	Attack robust.Attack
	// MaxDrop is the tolerated fall in robust accuracy; if 0,
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

// Trainer configures training; Fit runs it. The zero value of every field but Schedule
// (required) takes the default its comment names.
type Trainer struct {
	Method Method
	// Attack makes the training examples of PGDAT and FGSMRS. Randomized
	// attacks should implement robust.Reseedable so that every batch draws
	// fresh random starts.
	Attack robust.Attack
	// CleanFraction weighs the clean loss against the adversarial one for
	// PGDAT and FGSMRS: loss = (1-c)*CE(adv) + c*CE(clean). 0 trains on
	// adversarial examples only.
	CleanFraction float64
	TRADES        TRADESConfig
	// Epochs; if 0, DefaultEpochs.
	Epochs int
	// BatchSize; if 0, DefaultBatchSize. The last batch of an epoch is
	// smaller when BatchSize does not divide the training set.
	BatchSize int
	// Optimizer; if nil, Adam with its defaults.
	Optimizer Optimizer
	// Schedule gives the learning rate; it is required.
	Schedule Schedule
	// Temperature divides the logits in the loss (defensive distillation
	// trains at T > 1); if 0, 1.
	Temperature float64
	// ClipNorm rescales the gradient of all parameters together so that its
	// L2 norm is at most ClipNorm; 0 disables it.
	ClipNorm float64
	// ClipValue clamps every gradient entry to [-ClipValue, ClipValue]; 0
	// disables it. It is applied before ClipNorm.
	ClipValue float64
	NonFinite NonFinitePolicy
	// Validation is the number of training examples held out (drawn with
	// Seed) for the per-epoch validation figures and early stopping. If 0,
	// none are held out unless EarlyStop is set, which holds out
	// DefaultValidation.
	Validation int
	EarlyStop  *EarlyStop
	// Seed drives shuffling, attack random starts and dropout.
	Seed uint64
	// Checkpoint is a file Fit writes atomically every CheckpointEvery
	// batches (0: at the end of every epoch), when cancelled, and at the end.
	// If it exists when Fit starts, Fit resumes from it.
	Checkpoint      string
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

func (c Trainer) withDefaults() Trainer {
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Optimizer == nil {
		c.Optimizer = Adam{}
	}
	if c.Temperature == 0 {
		c.Temperature = 1
	}
	if c.Validation == 0 && c.EarlyStop != nil {
		c.Validation = DefaultValidation
	}
	if c.Method == TRADES {
		if c.TRADES.Steps == 0 {
			c.TRADES.Steps = DefaultTRADESStep
		}
		if c.TRADES.StepSize == 0 {
			c.TRADES.StepSize = 2.5 * c.TRADES.Eps / float64(c.TRADES.Steps)
		}
		if c.TRADES.Beta == 0 {
			c.TRADES.Beta = DefaultTRADESBeta
		}
	}
	if c.EarlyStop != nil && c.EarlyStop.MaxDrop == 0 {
		es := *c.EarlyStop
		es.MaxDrop = DefaultMaxDrop
		c.EarlyStop = &es
	}
	return c
}

func positiveFinite(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

// Validate reports the first invalid field of c (after defaults).
func (c Trainer) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: train: %s", robust.ErrConfig, fmt.Sprintf(format, a...))
	}
	switch c.Method {
	case Standard:
	case PGDAT, FGSMRS:
		if c.Attack == nil {
			return bad("method %v needs an Attack", c.Method)
		}
	case TRADES:
		if !positiveFinite(c.TRADES.Eps) {
			return bad("TRADES.Eps %v, want > 0", c.TRADES.Eps)
		}
		if c.TRADES.Steps < 0 || !positiveFinite(c.TRADES.StepSize) || !positiveFinite(c.TRADES.Beta) {
			return bad("TRADES steps %d, step size %v, beta %v", c.TRADES.Steps, c.TRADES.StepSize, c.TRADES.Beta)
		}
		if c.Temperature != 1 {
			return bad("TRADES takes no Temperature")
		}
	default:
		return bad("unknown method %d", int(c.Method))
	}
	if !(c.CleanFraction >= 0 && c.CleanFraction <= 1) {
		return bad("CleanFraction %v, want [0, 1]", c.CleanFraction)
	}
	if c.Epochs < 0 || c.BatchSize < 0 {
		return bad("Epochs %d and BatchSize %d must be >= 0", c.Epochs, c.BatchSize)
	}
	if err := c.Optimizer.validate(); err != nil {
		return err
	}
	if c.Schedule == nil {
		return bad("a Schedule is required (e.g. Constant{Rate: 0.01})")
	}
	if err := c.Schedule.validate(); err != nil {
		return err
	}
	if !positiveFinite(c.Temperature) {
		return bad("Temperature %v, want > 0", c.Temperature)
	}
	if !(c.ClipNorm >= 0) || math.IsInf(c.ClipNorm, 0) || !(c.ClipValue >= 0) || math.IsInf(c.ClipValue, 0) {
		return bad("ClipNorm %v and ClipValue %v must be finite and >= 0", c.ClipNorm, c.ClipValue)
	}
	if c.NonFinite != SkipStep && c.NonFinite != Stop {
		return bad("unknown NonFinite policy %d", int(c.NonFinite))
	}
	if c.Validation < 0 || c.CheckpointEvery < 0 {
		return bad("Validation %d and CheckpointEvery %d must be >= 0", c.Validation, c.CheckpointEvery)
	}
	if c.EarlyStop != nil {
		if c.EarlyStop.Attack == nil {
			return bad("EarlyStop needs an Attack")
		}
		if !(c.EarlyStop.MaxDrop > 0 && c.EarlyStop.MaxDrop <= 1) {
			return bad("EarlyStop.MaxDrop %v, want (0, 1]", c.EarlyStop.MaxDrop)
		}
		if c.EarlyStop.Rollbacks < 0 {
			return bad("EarlyStop.Rollbacks %d, want >= 0", c.EarlyStop.Rollbacks)
		}
	}
	return nil
}
