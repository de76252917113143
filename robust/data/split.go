package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gorobust/gorobust/robust"
)

// Subset returns a view of the examples of ds at idx, in that order; its
// example i is example idx[i] of ds. Indices may repeat (to oversample a
// class, say). The view shares the immutable pixels of ds and copies idx, so
// it costs one int per example and the caller may reuse idx.
func Subset(ds *Dataset, idx []int) (*Dataset, error) {
	if ds == nil {
		return nil, fmt.Errorf("data: Subset of a nil Dataset, want a Dataset: %w", robust.ErrConfig)
	}
	if err := ds.checkIndices("Subset", idx); err != nil {
		return nil, err
	}
	v := *ds
	v.index = make([]int, len(idx))
	for j, i := range idx {
		v.index[j] = ds.row(i)
	}
	return &v, nil
}

// holdoutStream is the PCG stream of Holdout's draw; see shuffleStream.
const holdoutStream = 0x7a11

// Holdout draws held of the indices 0..n-1 uniformly at random and returns
// the others (rest) and the drawn ones (heldOut), each in increasing order:
// the first held entries of rand.New(rand.NewPCG(seed, 0x7a11)).Perm(n).
// It is the one hold-out of gorobust: Split and train.Trainer's Validation
// both use it, so the same seed holds out the same examples. held must be
// in [0, n]; held 0 gives all indices in rest and a nil heldOut without
// drawing.
func Holdout(n, held int, seed uint64) (rest, heldOut []int, err error) {
	if n < 0 || held < 0 || held > n {
		return nil, nil, fmt.Errorf("data: Holdout held = %d of n = %d examples, want 0 <= held <= n: %w", held, n, robust.ErrConfig)
	}
	if held == 0 {
		rest = make([]int, n)
		for i := range rest {
			rest[i] = i
		}
		return rest, nil, nil
	}
	perm := rand.New(rand.NewPCG(seed, holdoutStream)).Perm(n)
	isHeld := make([]bool, n)
	for _, i := range perm[:held] {
		isHeld[i] = true
	}
	rest, heldOut = make([]int, 0, n-held), make([]int, 0, held)
	for i, h := range isHeld {
		if h {
			heldOut = append(heldOut, i)
		} else {
			rest = append(rest, i)
		}
	}
	return rest, heldOut, nil
}

// Split divides ds into two disjoint views that together cover it: rest
// with ds.Len()-holdout examples and held with holdout examples drawn
// uniformly at random, as for a train/validation split. The draw is
// Holdout's, so it depends only on seed and holds out the examples that
// train.Trainer's Validation holds out for the same seed and size. Each part
// keeps the order of ds, so a split is a plain selection and reads the base
// pixels in increasing order. holdout must be in [1, ds.Len()-1].
func Split(ds *Dataset, holdout int, seed uint64) (rest, held *Dataset, err error) {
	if ds == nil {
		return nil, nil, fmt.Errorf("data: Split of a nil Dataset, want a Dataset: %w", robust.ErrConfig)
	}
	n := ds.Len()
	if holdout < 1 || holdout > n-1 {
		return nil, nil, fmt.Errorf("data: Split holdout = %d of %d examples, want [1, %d]: %w",
			holdout, n, n-1, robust.ErrConfig)
	}
	r, h, err := Holdout(n, holdout, seed)
	if err != nil {
		return nil, nil, err
	}
	if rest, err = Subset(ds, r); err != nil {
		return nil, nil, err
	}
	if held, err = Subset(ds, h); err != nil {
		return nil, nil, err
	}
	return rest, held, nil
}

// SplitFraction is Split with holdout = round(fraction * ds.Len()).
// fraction must be in (0, 1) and give a holdout in [1, ds.Len()-1].
func SplitFraction(ds *Dataset, fraction float64, seed uint64) (rest, held *Dataset, err error) {
	if ds == nil {
		return nil, nil, fmt.Errorf("data: SplitFraction of a nil Dataset, want a Dataset: %w", robust.ErrConfig)
	}
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("data: SplitFraction fraction = %v, want (0, 1): %w", fraction, robust.ErrConfig)
	}
	return Split(ds, int(math.Round(fraction*float64(ds.Len()))), seed)
}
