package attack

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// DefaultFGSMRSStepFactor sets FGSMRS.Step when it is 0: Step = 1.25 Eps,
// the step Wong et al. recommend.
const DefaultFGSMRSStepFactor = 1.25

// fgsmrsStream separates FGSMRS's random numbers from other attacks'.
const fgsmrsStream = 0xf65

// FGSMRS is FGSM from a random start, the training attack of Wong, Rice and
// Kolter, "Fast is better than free: Revisiting adversarial training", ICLR
// 2020, https://arxiv.org/abs/2001.03994. Linf only.
//
// It draws delta uniformly from [-Eps, Eps] per pixel, takes the gradient at
// x + delta WITHOUT clipping that point to the model's Bounds, steps
// x + delta + Step*sign(grad), and projects onto the Eps ball and the Bounds.
// Skipping the clip of the starting point is what the reference
// implementation does, and it matters: on MNIST most pixels are 0, where a
// clipped start would collapse half the random starts onto x itself and,
// because Step > Eps, make the final perturbation of every background pixel
// 0 or Eps regardless of the draw. That loss of diversity is the
// catastrophic overfitting the random start exists to prevent (measured:
// FGSM-RS training with a clipped start fell to 16% PGD accuracy on MNIST at
// eps 0.3). The model must therefore accept inputs up to Eps outside its
// Bounds for the gradient; nn.Model does. The output, like every attack's,
// lies in the ball and the Bounds.
//
// Cost: one LossGrad call. Randomized; deterministic for a given Seed.
type FGSMRS struct {
	// Eps is the Linf radius. Required.
	Eps float64
	// Step is the FGSM step; if 0, DefaultFGSMRSStepFactor*Eps is used.
	Step float64
	// Loss is robust.CrossEntropy (the default when 0), Margin or DLR.
	Loss robust.ObjectiveKind
	// Seed seeds the random start.
	Seed uint64
}

var (
	_ robust.Attack     = FGSMRS{}
	_ robust.Reseedable = FGSMRS{}
)

// WithSeed implements robust.Reseedable: a copy of a with Seed set to seed.
func (a FGSMRS) WithSeed(seed uint64) robust.Attack { a.Seed = seed; return a }

// Validate reports whether the hyper-parameters are usable. Perturb calls it.
func (a FGSMRS) Validate() error {
	const name = "FGSMRS"
	if err := checkEps(name, a.Eps); err != nil {
		return err
	}
	if err := checkOptionalPositive(name, "Step", a.Step, 0); err != nil {
		return err
	}
	return checkLoss(name, a.Loss)
}

func (a FGSMRS) step() float64 {
	if a.Step != 0 {
		return a.Step
	}
	return DefaultFGSMRSStepFactor * a.Eps
}

// Perturb implements robust.Attack. m must be a robust.Differentiable.
func (a FGSMRS) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	const name = "FGSMRS"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, err := prepare(name, m, x, y, nil, false)
	if err != nil {
		return nil, err
	}
	g, err := differentiable(name, m)
	if err != nil {
		return nil, err
	}
	b := ball{norm: robust.LInf, eps: a.Eps, bounds: p.bounds}
	if err := checkBudget(name, robust.LInf, a.Eps, p.bounds, p.d); err != nil {
		return nil, err
	}
	obj := p.objective(lossKind(a.Loss, false))
	if err := obj.Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, stopped(name, "step", 1, err)
	}
	rng := newRNG(a.Seed, fgsmrsStream)
	adv := make([]float32, len(p.x))
	for i, v := range p.x {
		adv[i] = float32(float64(v) + a.Eps*(2*rng.Float64()-1))
	}
	_, grad, err := p.lossGrad(ctx, g, adv, obj)
	if err != nil {
		return nil, failed(name, "step", 1, err)
	}
	step := float32(a.step())
	dir := make([]float32, p.d)
	for i := 0; i < p.n; i++ {
		direction(robust.LInf, grad[i*p.d:(i+1)*p.d], dir)
		for j, v := range dir {
			adv[i*p.d+j] += step * v
		}
	}
	return p.tensor(b.finalize(p.x, adv, p.d)), nil
}
