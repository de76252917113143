package train

import (
	"fmt"
	"math"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
)

// Method is a training method: Standard, Adversarial or TRADES. A method is
// a value that carries its own settings, so a setting that a method does not
// read cannot be written on it. A nil Method trains as Standard{} does.
//
// The interface is sealed: only the types of this package implement it,
// and Fit accepts them as values, not pointers.
type Method interface {
	// methodName names the method in History.Method and in checkpoints.
	methodName() string
	// validate reports the first invalid setting, defaults applied.
	validate() error
}

var (
	_ Method = Standard{}
	_ Method = Adversarial{}
	_ Method = TRADES{}
)

// Standard trains on the clean examples: the cross-entropy of
// softmax(z/Temperature) against the labels (against the teacher's soft
// labels in Distill).
type Standard struct {
	// Temperature divides the logits in the loss; defensive distillation
	// trains its teacher at T > 1 (Distill sets the student's). If 0, 1 is
	// used. It must be finite and >= 0.
	Temperature float64
}

// Adversarial trains on the examples Attack makes from every clean batch:
//
//   - with a multi-step attack.PGD, PGD adversarial training (Madry et al.
//     2018, "Towards Deep Learning Models Resistant to Adversarial Attacks",
//     https://arxiv.org/abs/1706.06083);
//   - with attack.FGSMRS, FGSM with a random start (Wong, Rice and Kolter
//     2020, "Fast is better than free", https://arxiv.org/abs/2001.03994),
//     whose unclipped random start is what keeps single-step training from
//     catastrophic overfitting; set Trainer.EarlyStop to guard against it
//     anyway.
//
// The attack runs on the model in evaluation mode. An attack that
// implements robust.Reseedable (every randomized attack of package attack)
// draws fresh random starts for every batch, from a seed derived from
// Trainer.Seed and the step, so training stays reproducible.
type Adversarial struct {
	// Attack makes the training examples; it is required.
	Attack robust.Attack
	// CleanFraction c weighs the clean loss against the adversarial one:
	// loss = (1-c)*CE(adv) + c*CE(clean), in [0, 1]. 0 trains on adversarial
	// examples only; c > 0 costs a second training step per batch.
	CleanFraction float64
}

// TRADES defaults.
const (
	// DefaultTRADESBeta is TRADES.Beta when it is 0: the TRADES paper's
	// CIFAR-10 setting (its MNIST setting is 1).
	DefaultTRADESBeta = 6.0
	// DefaultTRADESSteps is TRADES.Steps when it is 0.
	DefaultTRADESSteps = 10
	// tradesStart is the standard deviation of the inner maximisation's
	// Gaussian start, the reference implementation's 0.001.
	tradesStart = 0.001
)

// TRADES minimises CE(f(x), y) + Beta * KL(f(x) || f(x')), where x' maximises
// the KL term within the Linf ball of radius Eps around x (Zhang et al.
// 2019, "Theoretically Principled Trade-off between Robustness and
// Accuracy", https://arxiv.org/abs/1901.08573). The inner maximisation is
// attack.PGD's Ascend on robust.KL from the clean probabilities, started,
// as in the reference implementation, at x + 0.001*N(0, 1): Steps steps of
// Step along the gradient's sign, each projected onto the ball and the
// model's bounds. Its random start is drawn from Trainer.Seed and the step.
//
// Cost per batch: Steps LossGrad calls, one Logits call and a training
// step on twice the batch.
type TRADES struct {
	// Eps is the Linf radius of the inner maximisation; it is required
	// (finite and > 0).
	Eps float64
	// Steps is the number of PGD steps; if 0, DefaultTRADESSteps is used.
	Steps int
	// Step is the PGD step; if 0, attack.DefaultStepFactor*Eps/Steps is used.
	Step float64
	// Beta weighs the KL term; if 0, DefaultTRADESBeta is used.
	Beta float64
}

func (Standard) methodName() string { return "standard" }
func (TRADES) methodName() string   { return "trades" }

// methodName keeps the names of the two classic settings, under which
// histories and checkpoints were written before methods were values.
func (a Adversarial) methodName() string {
	switch a.Attack.(type) {
	case attack.FGSMRS:
		return "fgsm-rs"
	case attack.PGD:
		return "pgd-at"
	}
	return "adversarial"
}

func (s Standard) withDefaults() Standard {
	if s.Temperature == 0 {
		s.Temperature = 1
	}
	return s
}

func (t TRADES) withDefaults() TRADES {
	if t.Steps == 0 {
		t.Steps = DefaultTRADESSteps
	}
	if t.Beta == 0 {
		t.Beta = DefaultTRADESBeta
	}
	return t
}

func (s Standard) validate() error {
	if !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0) {
		return configErr("Standard.Temperature = %v, want a finite value > 0 (0 means 1)", s.Temperature)
	}
	return nil
}

func (a Adversarial) validate() error {
	if a.Attack == nil {
		return configErr("Adversarial.Attack = nil, want an attack (attack.FGSMRS for FGSM-RS, attack.PGD for PGD-AT)")
	}
	if err := validateAttack("Adversarial.Attack", a.Attack); err != nil {
		return err
	}
	if !(a.CleanFraction >= 0 && a.CleanFraction <= 1) {
		return configErr("Adversarial.CleanFraction = %v, want a value in [0, 1]", a.CleanFraction)
	}
	return nil
}

func (t TRADES) validate() error {
	if !(t.Eps > 0) || math.IsInf(t.Eps, 0) {
		return configErr("TRADES.Eps = %v, want a finite value > 0", t.Eps)
	}
	if t.Steps < 0 {
		return configErr("TRADES.Steps = %d, want >= 0 (0 means DefaultTRADESSteps)", t.Steps)
	}
	if !(t.Step >= 0) || math.IsInf(t.Step, 0) {
		return configErr("TRADES.Step = %v, want a finite value > 0 (0 means attack.DefaultStepFactor*Eps/Steps)", t.Step)
	}
	if !(t.Beta >= 0) || math.IsInf(t.Beta, 0) {
		return configErr("TRADES.Beta = %v, want a finite value > 0 (0 means DefaultTRADESBeta)", t.Beta)
	}
	return nil
}

// validateAttack runs the attack's own Validate, when it has one, so that a
// bad attack fails before training starts rather than at its first batch.
func validateAttack(field string, a robust.Attack) error {
	v, ok := a.(interface{ Validate() error })
	if !ok {
		return nil
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("train: %s: %w", field, err)
	}
	return nil
}
