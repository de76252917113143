package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/gorobust/gorobust/robust"
)

// Batches splits the indices 0..n-1 into batches of size indices, in order
// when rng is nil and in a random order drawn from rng otherwise, so one
// seed always gives the same batches. The last batch is shorter when size
// does not divide n, unless dropLast is set, in which case it is left out.
// n == 0 gives no batches.
//
// Every batch is a slice of one shared array with its capacity capped at
// its length, so appending to one batch never overwrites another.
func Batches(n, size int, rng *rand.Rand, dropLast bool) ([][]int, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: Batches of %d examples, want >= 0", robust.ErrConfig, n)
	}
	if size < 1 {
		return nil, fmt.Errorf("%w: batch size must be >= 1, got %d", robust.ErrConfig, size)
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if rng != nil {
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	}
	count := n / size
	if !dropLast && n%size != 0 {
		count++
	}
	out := make([][]int, count)
	for b := range out {
		lo, hi := b*size, min((b+1)*size, n)
		out[b] = perm[lo:hi:hi]
	}
	return out, nil
}

// NewRand returns the generator this package uses for a seed: a PCG seeded
// with (seed, seed). Passing NewRand(seed) to Batches makes an epoch's order
// reproducible from one number.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed))
}
