package defense

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/robust"
)

// MaxDecimals is the largest Hardening.Decimals.
const MaxDecimals = 10

// probFloor stands in for a zero probability in Hardened.Logits, which
// must stay finite: log(1e-12) is about -27.6.
const probFloor = 1e-12

// Hardening says what a served model reveals of its probabilities. The
// zero value reveals everything and is rejected by Harden.
type Hardening struct {
	// LabelsOnly reveals only the predicted class: the probabilities are
	// one-hot. It excludes TopK and Decimals.
	LabelsOnly bool
	// TopK, if not 0, reveals the probabilities of the TopK most likely
	// classes (ties to the lower index) and reports 0 for the others, as
	// the model computed them: the revealed values are not renormalised.
	// It must be in [1, K-1].
	TopK int
	// Decimals, if not 0, rounds every revealed probability to that many
	// decimal places (half to even, as numpy's around), in [1,
	// MaxDecimals]. It is applied after TopK.
	Decimals int
}

// Validate reports a hardening that reveals everything, a LabelsOnly mixed
// with other settings, or a setting out of range, for a model of k classes.
func (h Hardening) Validate(k int) error {
	switch {
	case !h.LabelsOnly && h.TopK == 0 && h.Decimals == 0:
		return configErr("Hardening hides nothing: set LabelsOnly, TopK or Decimals")
	case h.LabelsOnly && (h.TopK != 0 || h.Decimals != 0):
		return configErr("Hardening.LabelsOnly excludes TopK (%d) and Decimals (%d)", h.TopK, h.Decimals)
	case h.TopK < 0 || h.TopK >= k:
		return configErr("Hardening.TopK = %d, want a value in [1, %d] for %d classes (0: off)", h.TopK, k-1, k)
	case h.Decimals < 0 || h.Decimals > MaxDecimals:
		return configErr("Hardening.Decimals = %d, want a value in [1, %d] (0: off)", h.Decimals, MaxDecimals)
	}
	return nil
}

// Hardened is a classifier whose outputs reveal less than its model's, to
// slow down model extraction and score-based black-box attacks. Made by
// Harden; safe for concurrent use when the model is.
//
// Hardened is deliberately not robust.Differentiable: it stands for a
// model behind a service that returns only Probabilities. It does not make
// the model more robust (Square and other attacks still work on labels or
// on rounded scores, only more slowly); it reduces what each query leaks.
type Hardened struct {
	model robust.Classifier
	h     Hardening
}

var _ robust.Classifier = (*Hardened)(nil)

// Harden returns model with outputs reduced as h says.
//
// The hardenings are the post-processors of IBM's Adversarial Robustness
// Toolbox (ClassLabels, Rounded) and of the extraction literature: Tramèr,
// Zhang, Juels, Reiter and Ristenpart, "Stealing Machine Learning Models via
// Prediction APIs", USENIX Security 2016, https://arxiv.org/abs/1609.02943,
// section 8 (rounding, labels only); Orekondy, Schiele and Fritz, "Knockoff
// Nets", CVPR 2019, https://arxiv.org/abs/1812.02766 (top-k). Deterministic;
// costs one model call.
func Harden(model robust.Classifier, h Hardening) (*Hardened, error) {
	if model == nil {
		return nil, configErr("Harden: nil model")
	}
	if err := h.Validate(model.NumClasses()); err != nil {
		return nil, err
	}
	return &Hardened{model: model, h: h}, nil
}

// NumClasses implements robust.Classifier.
func (h *Hardened) NumClasses() int { return h.model.NumClasses() }

// Bounds implements robust.Classifier.
func (h *Hardened) Bounds() robust.Bounds { return h.model.Bounds() }

// harden returns the revealed n x k probabilities and the model's
// predicted classes.
func (h *Hardened) harden(ctx context.Context, x *tensor.Dense) (n int, q []float64, top []int, err error) {
	k := h.model.NumClasses()
	z, err := h.model.Logits(ctx, x)
	if err != nil {
		return 0, nil, nil, err
	}
	zs, err := logitRows(z, k)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("defense: Hardened: %w", err)
	}
	n = len(zs) / k
	q = make([]float64, n*k)
	top = make([]int, n)
	scale := math.Pow(10, float64(h.h.Decimals))
	for i := 0; i < n; i++ {
		p := q[i*k : (i+1)*k]
		softmax.Accumulate(zs[i*k:(i+1)*k], p)
		order := rankDescending(p)
		top[i] = order[0]
		switch {
		case h.h.LabelsOnly:
			for j := range p {
				p[j] = 0
			}
			p[top[i]] = 1
			continue
		case h.h.TopK > 0:
			for _, j := range order[h.h.TopK:] {
				p[j] = 0
			}
		}
		if h.h.Decimals > 0 {
			for j := range p {
				p[j] = math.RoundToEven(p[j]*scale) / scale
			}
		}
	}
	return n, q, top, nil
}

// rankDescending returns the class indices by decreasing value, ties to the
// lower index.
func rankDescending(p []float64) []int {
	order := make([]int, len(p))
	for j := range order {
		order[j] = j
	}
	// Insertion sort: k is small and the order must be stable.
	for a := 1; a < len(order); a++ {
		for b := a; b > 0 && p[order[b]] > p[order[b-1]]; b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	return order
}

// Probabilities returns the revealed N x K probabilities, as a service
// would return them. x is not modified.
func (h *Hardened) Probabilities(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, q, _, err := h.harden(ctx, x)
	if err != nil {
		return nil, err
	}
	return tensor.New(tensor.WithShape(n, h.NumClasses()), tensor.WithBacking(to32(q))), nil
}

// Logits implements robust.Classifier: log(max(q, 1e-12)) for the revealed
// probabilities q, so that their softmax is q renormalised (TopK and
// rounding leave sums below or above one). Where hiding or rounding
// ties the model's predicted class with another, its logit is raised by
// one float32 step, so the argmax is always the model's prediction and
// hardening never changes accuracy.
func (h *Hardened) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, q, top, err := h.harden(ctx, x)
	if err != nil {
		return nil, err
	}
	k := h.NumClasses()
	out := make([]float32, n*k)
	for i := 0; i < n; i++ {
		o := out[i*k : (i+1)*k]
		other := float32(math.Inf(-1))
		for j := range o {
			o[j] = float32(math.Log(math.Max(q[i*k+j], probFloor)))
			if j != top[i] {
				other = max(other, o[j])
			}
		}
		if o[top[i]] <= other {
			o[top[i]] = math.Nextafter32(other, float32(math.Inf(1)))
		}
	}
	return tensor.New(tensor.WithShape(n, k), tensor.WithBacking(out)), nil
}
