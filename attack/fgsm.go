package attack

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// FGSM is the Fast Gradient Sign Method (Goodfellow, Shlens and Szegedy,
// "Explaining and Harnessing Adversarial Examples", ICLR 2015,
// https://arxiv.org/abs/1412.6572) and, for robust.L2, its fast gradient method
// variant: one step of length Eps along the
// steepest-ascent direction of the objective at the clean input,
//
//	robust.LInf: x_adv = x + Eps * sign(grad)
//	robust.L2:   x_adv = x + Eps * grad / ||grad||_2
//
// then projected and clipped to the model's Bounds. It is deterministic and
// costs one LossGrad call. A zero gradient leaves an example unchanged.
//
// The zero value is not usable: Eps must be set. An FGSM value is read-only
// during Perturb and safe to share between goroutines.
type FGSM struct {
	// Eps is the radius of the ball, in the model's pixel units. Required.
	Eps float64
	// Norm is robust.LInf or robust.L2. If Norm is 0, robust.LInf is used.
	Norm robust.Norm
	// Loss is the objective family: robust.CrossEntropy, robust.Margin or
	// robust.DLR. If Loss is 0, robust.CrossEntropy is used. PerturbTargeted
	// ascends the matching targeted kind.
	Loss robust.ObjectiveKind
}

var (
	_ robust.Attack = FGSM{}
	_ Targeted      = FGSM{}
)

// Validate reports whether the hyper-parameters are usable. Perturb calls it.
func (a FGSM) Validate() error {
	if err := checkEps("FGSM", a.Eps); err != nil {
		return err
	}
	if err := checkNorm("FGSM", a.Norm); err != nil {
		return err
	}
	return checkLoss("FGSM", a.Loss)
}

// Perturb implements robust.Attack: an untargeted step that raises the
// objective of the true labels y. m must be a robust.Differentiable.
func (a FGSM) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, nil, false)
}

// PerturbTargeted implements Targeted: a step toward the class targets[i]
// for each example i, ascending the targeted kind of Loss.
func (a FGSM) PerturbTargeted(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int) (*tensor.Dense, error) {
	return a.perturb(ctx, m, x, y, targets, true)
}

func (a FGSM) perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y, targets []int, targeted bool) (*tensor.Dense, error) {
	const name = "FGSM"
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, err := prepare(name, m, x, y, targets, targeted)
	if err != nil {
		return nil, err
	}
	g, err := differentiable(name, m)
	if err != nil {
		return nil, err
	}
	norm := orLInf(a.Norm)
	if err := checkBudget(name, norm, a.Eps, p.bounds, p.d); err != nil {
		return nil, err
	}
	obj := p.objective(lossKind(a.Loss, targeted))
	if err := obj.Validate(p.n, p.k); err != nil {
		return nil, fmt.Errorf("attack: %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, stopped(name, "step", 1, err)
	}
	_, grad, err := p.lossGrad(ctx, g, p.x, obj)
	if err != nil {
		return nil, failed(name, "step", 1, err)
	}
	adv := append([]float32(nil), p.x...)
	dir := make([]float32, p.d)
	for i := 0; i < p.n; i++ {
		direction(norm, grad[i*p.d:(i+1)*p.d], dir)
		for j, v := range dir {
			adv[i*p.d+j] += float32(a.Eps) * v
		}
	}
	b := ball{norm: norm, eps: a.Eps, bounds: p.bounds}
	return p.tensor(b.finalize(p.x, adv, p.d)), nil
}
