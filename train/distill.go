package train

import (
	"context"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/softmax"
	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// Distill trains student by defensive distillation (Papernot et al. 2016,
// "Distillation as a Defense to Adversarial Perturbations against Deep
// Neural Networks", https://arxiv.org/abs/1511.04508): every example of ds
// is labelled with softmax(teacher logits / T), and student is trained with
// tr on those probabilities with its logits divided by T, that is with
// Method Standard{Temperature: T}. tr.Method must be nil or a Standard whose
// Temperature is 0 or T. The teacher should itself have been trained at
// temperature T (Standard.Temperature). Deployed, the student runs at T = 1:
// its logits are used as they are, which saturates its softmax; the
// defense's known weakness is that this hides gradients from cross-entropy
// attacks but not from margin-based ones (Carlini and Wagner 2017).
func Distill(ctx context.Context, teacher robust.Classifier, student Model, ds robust.Dataset, temperature float64, tr Trainer) (*History, error) {
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return nil, configErr("Distill temperature = %v, want a finite value > 0", temperature)
	}
	switch m := tr.Method.(type) {
	case nil:
	case Standard:
		if m.Temperature != 0 && m.Temperature != temperature {
			return nil, configErr("Standard.Temperature = %v differs from the distillation temperature %v, want 0 or %v", m.Temperature, temperature, temperature)
		}
	default:
		return nil, configErr("Trainer.Method = %T, want nil or Standard: distillation trains on the teacher's soft labels", tr.Method)
	}
	tr.Method = Standard{Temperature: temperature}
	if teacher == nil {
		return nil, configErr("Distill teacher = nil, want a model")
	}
	if err := tr.Validate(); err != nil {
		return nil, err // before the teacher labels the whole dataset
	}
	soft, err := softLabels(ctx, teacher, ds, temperature)
	if err != nil {
		return nil, err
	}
	return tr.Fit(ctx, student, softDataset{Dataset: ds, soft: soft, k: teacher.NumClasses()})
}

// softLabels returns softmax(z/T) of the teacher for every example.
func softLabels(ctx context.Context, teacher robust.Classifier, ds robust.Dataset, t float64) ([]float64, error) {
	const batch = 500
	n, k := ds.Len(), teacher.NumClasses()
	out := make([]float64, n*k)
	for a := 0; a < n; a += batch {
		idx := make([]int, min(batch, n-a))
		for i := range idx {
			idx[i] = a + i
		}
		x, _, err := ds.Batch(idx)
		if err != nil {
			return nil, err
		}
		z, err := teacher.Logits(ctx, x)
		if err != nil {
			return nil, fmt.Errorf("train: teacher: %w", err)
		}
		zd, err := tensors.Float64s(z)
		if err != nil {
			return nil, err
		}
		for i := range idx {
			row := zd[i*k : (i+1)*k]
			for j := range row {
				row[j] /= t
				if math.IsNaN(row[j]) || math.IsInf(row[j], 0) {
					return nil, fmt.Errorf("train: teacher: %w: logit of example %d", robust.ErrNonFinite, a+i)
				}
			}
			softmax.Into(row, out[(a+i)*k:(a+i+1)*k])
		}
	}
	return out, nil
}

// softDataset carries soft labels alongside a dataset.
type softDataset struct {
	robust.Dataset
	soft []float64
	k    int
}

// Soft returns the soft labels of the examples idx as an N x K tensor.
func (d softDataset) Soft(idx []int) *tensor.Dense {
	out := make([]float64, len(idx)*d.k)
	for i, j := range idx {
		copy(out[i*d.k:(i+1)*d.k], d.soft[j*d.k:(j+1)*d.k])
	}
	return tensor.New(tensor.WithShape(len(idx), d.k), tensor.WithBacking(out))
}

// softLabeled is implemented by datasets that carry soft labels.
type softLabeled interface {
	Soft(idx []int) *tensor.Dense
}
