package attack_test

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
)

// randomBatch returns n images of shape s in b, a third of the values at
// each bound so that clipping is exercised, and random labels in [0, k).
func randomBatch(seed uint64, n int, s testmodel.Shape, b robust.Bounds, k int) (*tensor.Dense, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*s.Size())
	for j := range x {
		switch rng.IntN(3) {
		case 0:
			x[j] = b.Min
		case 1:
			x[j] = b.Max
		default:
			x[j] = b.Min + b.Width()*rng.Float32()
		}
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(k)
	}
	return tensor.New(tensor.WithShape(n, s.C, s.H, s.W), tensor.WithBacking(x)), y
}

func TestInvariantsTrained(t *testing.T) {
	b := mustBlobs(t)
	x, y := head(b.x, b.y, 32)
	// Budgets where the attacks break some examples but not all, so both
	// branches of the worst-case bookkeeping run.
	runInvariantSuite(t, b.m, x, y, 0.1, 0.6)
}

func TestInvariantsRandomMLP(t *testing.T) {
	s := testmodel.Shape{C: 3, H: 5, W: 6}
	for _, bounds := range []robust.Bounds{robust.UnitBounds, {Min: -1, Max: 2}, {Min: 0, Max: 255}} {
		t.Run("", func(t *testing.T) {
			m, err := testmodel.New(testmodel.Config{Shape: s, Hidden: 16, Classes: 5, Seed: 4, Bounds: bounds})
			if err != nil {
				t.Fatal(err)
			}
			x, y := randomBatch(5, 12, s, bounds, 5)
			w := float64(bounds.Width())
			// Budgets in the model's own pixel units: a tenth of the range
			// for LInf, and twice that for L2.
			runInvariantSuite(t, m, x, y, 0.1*w, 0.2*w)
		})
	}
}

func TestInvariantsWithoutGradients(t *testing.T) {
	b := mustBlobs(t)
	x, y := head(b.x, b.y, 32)
	runInvariantSuite(t, testmodel.NoGrad{Model: b.m}, x, y, 0.1, 0.6)
}

// TestInvariantsWholeRange uses Eps equal to the whole input range, where
// every projection is a pure clip.
func TestInvariantsWholeRange(t *testing.T) {
	s := testmodel.Shape{C: 1, H: 4, W: 4}
	m, err := testmodel.New(testmodel.Config{Shape: s, Hidden: 8, Classes: 4, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	x, y := randomBatch(6, 5, s, robust.UnitBounds, 4)
	// 4 = sqrt(16) is the L2 diameter of the unit box in 16 dimensions.
	runInvariantSuite(t, m, x, y, 1, 4)
}

// head returns a copy of the first n examples of x and y.
func head(x *tensor.Dense, y []int, n int) (*tensor.Dense, []int) {
	s := x.Shape()
	d := s.TotalSize() / s[0]
	data := append([]float32(nil), x.Data().([]float32)[:n*d]...)
	return tensor.New(tensor.WithShape(n, s[1], s[2], s[3]), tensor.WithBacking(data)), append([]int(nil), y[:n]...)
}
