package data

import (
	"fmt"
	"math"
	"slices"

	"github.com/gorobust/gorobust/robust"
)

// Subset returns a view of the examples of ds at idx, in that order; its
// example i is example idx[i] of ds. Indices may repeat (to oversample a
// class, say). The view shares the immutable pixels of ds and copies idx, so
// it costs one int per example and the caller may reuse idx.
func Subset(ds *Dataset, idx []int) (*Dataset, error) {
	if ds == nil {
		return nil, fmt.Errorf("%w: Subset of a nil Dataset", robust.ErrConfig)
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

// Split divides ds into two disjoint views that together cover it: rest
// with ds.Len()-holdout examples and held with holdout examples drawn
// uniformly at random, as for a train/validation split. The draw depends
// only on seed (through NewRand); each part keeps the order of ds. holdout
// must be in [1, ds.Len()-1].
func Split(ds *Dataset, holdout int, seed uint64) (rest, held *Dataset, err error) {
	if ds == nil {
		return nil, nil, fmt.Errorf("%w: Split of a nil Dataset", robust.ErrConfig)
	}
	n := ds.Len()
	if holdout < 1 || holdout > n-1 {
		return nil, nil, fmt.Errorf("%w: Split holdout must be in [1, %d] for %d examples, got %d",
			robust.ErrConfig, n-1, n, holdout)
	}
	perm := NewRand(seed).Perm(n)
	h, r := perm[:holdout], perm[holdout:]
	// Sorting keeps each part in the order of ds, so a split is a plain
	// selection and reads the base pixels in increasing order.
	slices.Sort(h)
	slices.Sort(r)
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
		return nil, nil, fmt.Errorf("%w: SplitFraction of a nil Dataset", robust.ErrConfig)
	}
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("%w: SplitFraction fraction must be in (0, 1), got %v", robust.ErrConfig, fraction)
	}
	return Split(ds, int(math.Round(fraction*float64(ds.Len()))), seed)
}
