// Package mix derives independent seeds from one seed: the only seed mixer
// in gorobust. Every derivation is built on SplitMix64 (Steele, Lea and
// Flood 2014), whose finalizer is a bijection that spreads every input bit
// over the output. The derivations differ only in how they combine their
// inputs before mixing; each is fixed, because trained models and
// evaluation reports are reproducible from their seeds only as long as the
// streams stay bit-identical.
package mix

import "math"

const (
	golden = 0x9e3779b97f4a7c15 // SplitMix64's increment, 2^64 / phi
	mul1   = 0xbf58476d1ce4e5b9
	mul2   = 0x94d049bb133111eb
)

// Finalize is the SplitMix64 finalizer: a bijection of uint64.
func Finalize(z uint64) uint64 {
	z = (z ^ (z >> 30)) * mul1
	z = (z ^ (z >> 27)) * mul2
	return z ^ (z >> 31)
}

// SplitMix is one SplitMix64 output for state z: Finalize(z + golden).
func SplitMix(z uint64) uint64 { return Finalize(z + golden) }

// Stream is the seed of item i of a numbered stream of a seed (a trainer's
// shuffles, attack starts, dropout masks): Finalize(seed + stream*golden +
// i*mul1).
func Stream(seed, stream, i uint64) uint64 {
	return Finalize(seed + stream*golden + i*mul1)
}

// Hash mixes words into one well-spread value: SplitMix applied after each
// word, from a fixed start.
func Hash(words ...uint64) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, w := range words {
		h = SplitMix(h ^ w)
	}
	return h
}

// Values is the seed of one example's generator: a hash of seed and the
// bits of the example's values, so that equal values under equal seeds give
// equal seeds and any change to a value gives a fresh one.
func Values(seed uint64, example []float32) uint64 {
	h := SplitMix(seed ^ 0x5be0cd19137e2179)
	for i := 0; i+1 < len(example); i += 2 {
		h = SplitMix(h ^ (uint64(math.Float32bits(example[i])) | uint64(math.Float32bits(example[i+1]))<<32))
	}
	if len(example)%2 == 1 {
		h = SplitMix(h ^ uint64(math.Float32bits(example[len(example)-1])))
	}
	return SplitMix(h ^ uint64(len(example)))
}

// Named is the seed of item j of a named, real-valued setting of a seed
// (an evaluation's attack name and eps, and batch j): SplitMix over seed,
// the FNV-1a hash of name, the bits of v and j. It does not depend on the
// order in which names or values are visited.
func Named(seed uint64, name string, v float64, j int) uint64 {
	h := uint64(14695981039346656037) // FNV-1a offset basis
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	s := SplitMix(seed ^ SplitMix(h))
	s = SplitMix(s ^ math.Float64bits(v))
	return SplitMix(s ^ uint64(j))
}
