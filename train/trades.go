package train

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// adversary is the TRADES inner maximisation for the clean batch x: PGD on
// KL(f(x) || f(x')) from x + 0.001*N(0, 1), drawn from seed. t has its
// defaults applied.
func (t TRADES) adversary(ctx context.Context, m Model, x *tensor.Dense, seed uint64) (*tensor.Dense, error) {
	z, err := m.Logits(ctx, x)
	if err != nil {
		return nil, err
	}
	zd, err := tensors.Float64s(z)
	if err != nil {
		return nil, err
	}
	n, k := x.Shape()[0], m.NumClasses()
	if len(zd) != n*k {
		return nil, fmt.Errorf("train: TRADES: model returned %d logits for %d examples of %d classes: %w", len(zd), n, k, robust.ErrShape)
	}
	obj := robust.Objective{Kind: robust.KL, Reference: softmax.Rows(zd, n, k)}
	pgd := attack.PGD{Eps: t.Eps, Steps: t.Steps, Step: t.Step, GaussianStart: tradesStart, Seed: seed}
	return pgd.Ascend(ctx, m, x, obj)
}
