package nn_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
)

// TestSGDTrainsReferenceCNNOnMNIST trains the reference CNN for one epoch
// of plain SGD with momentum on the real MNIST training set and requires
// 97% accuracy on the full test set.
func TestSGDTrainsReferenceCNNOnMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for one MNIST epoch")
	}
	train, err := mnist.Train()
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.New(nn.ReferenceCNN(), &nn.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	batches, err := data.Batches(train.Len(), 64, data.EpochRand(1, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	const lr, momentum = 0.05, 0.9
	velocity := make([][]float32, len(m.ParamInfos()))
	for i, b := range batches {
		x, y, err := train.Batch(b)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.TrainStep(ctx, x, nn.TrainLoss{Labels: y, Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		grads := r.Grads
		err = m.Update(func(ps []nn.Param) error {
			for j, p := range ps {
				w, g := p.Value.Data().([]float32), grads[j].Value.Data().([]float32)
				if velocity[j] == nil {
					velocity[j] = make([]float32, len(w))
				}
				for k := range w {
					velocity[j][k] = momentum*velocity[j][k] + g[k]
					w[k] -= lr * velocity[j][k]
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	trainTime := time.Since(start)
	acc := accuracy(t, m, test)
	t.Logf("one epoch: %v (%.0f images/s), test accuracy %.2f%%", trainTime.Round(time.Millisecond),
		float64(train.Len())/trainTime.Seconds(), 100*acc)
	if acc < 0.97 {
		t.Errorf("test accuracy %.4f after one epoch, want >= 0.97", acc)
	}
}

func accuracy(t *testing.T, m robust.Classifier, ds robust.Dataset) float64 {
	t.Helper()
	batches, err := data.Batches(ds.Len(), 500, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for _, b := range batches {
		x, y, err := ds.Batch(b)
		if err != nil {
			t.Fatal(err)
		}
		z, err := m.Logits(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		pred, err := tensors.Argmax(z)
		if err != nil {
			t.Fatal(err)
		}
		for i := range pred {
			if pred[i] == y[i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(ds.Len())
}
