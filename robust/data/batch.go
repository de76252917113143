package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/gorobust/gorobust/internal/mix"
	"github.com/gorobust/gorobust/robust"
)

// Batches splits the indices 0..n-1 into batches of size indices, in order
// when rng is nil and in a random order drawn from rng otherwise (one
// rng.Shuffle of 0..n-1), so one seed always gives the same batches; pass
// EpochRand(seed, epoch) for the order train.Trainer uses. The last batch is shorter when size
// does not divide n, unless dropLast is set, in which case it is left out.
// n == 0 gives no batches.
//
// Every batch is a slice of one shared array with its capacity capped at
// its length, so appending to one batch never overwrites another.
func Batches(n, size int, rng *rand.Rand, dropLast bool) ([][]int, error) {
	if n < 0 {
		return nil, fmt.Errorf("data: Batches n = %d examples, want >= 0: %w", n, robust.ErrConfig)
	}
	if size < 1 {
		return nil, fmt.Errorf("data: Batches size = %d, want >= 1: %w", size, robust.ErrConfig)
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

// shuffleStream is the stream of mix.Stream that EpochRand draws from. Its
// value, and holdoutStream's, are the ones train.Trainer has always used:
// trained models are reproducible from their seeds only while these draws
// stay bit-identical.
const shuffleStream = 1

// EpochRand returns the generator of one epoch's order in a training
// seeded with seed: a PCG seeded with (mix.Stream(seed, 1, epoch), 0),
// where mix.Stream is internal/mix's SplitMix64 derivation. Epoch e of
// train.Trainer visits its training examples in the order
// Batches(n, size, EpochRand(seed, e), false) gives. Every epoch has its
// own generator, so any epoch's order can be drawn again without drawing
// the epochs before it, as a resumed training must. epoch must be >= 0.
func EpochRand(seed uint64, epoch int) *rand.Rand {
	return rand.New(rand.NewPCG(mix.Stream(seed, shuffleStream, uint64(epoch)), 0))
}
