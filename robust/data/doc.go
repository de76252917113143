// Package data reads labelled image datasets and serves them as validated
// float32 batches for training and evaluation.
//
// # Files
//
// ReadIDX decodes the IDX format of MNIST and Fashion-MNIST: two zero bytes,
// an element type, a dimension count d, d big-endian uint32 sizes, then the
// elements in row-major order. Only element type 0x08 (unsigned byte) is
// decoded; other types are rejected with an error naming them. Input may be
// raw or gzip-compressed; gzip is recognised by its magic bytes, not by a
// file name. ReadImages and ReadLabels add the N x H x W and N layouts of
// image and label files; WriteIDX encodes an IDX file.
//
// # Limits
//
// An IDX header is untrusted. Before anything is allocated, ReadIDX checks
// the dimension count against IDXOptions.MaxDims (default DefaultMaxDims =
// 4), every size against MaxDimSize (default DefaultMaxDimSize = 2^24) and
// the product of the sizes, computed without overflow, against MaxElements
// (default DefaultMaxElements = 2^28 bytes). The data buffer then grows only
// as bytes arrive, so a short file with a large header costs little. A file
// must hold exactly the declared data: a short file is an error
// ("truncated data: want N bytes, got M"), and so are trailing bytes and a
// gzip stream whose checksum fails. There are no partial results.
//
// # Datasets
//
// A Dataset holds N images of shape C x H x W as bytes and one label in
// [0, NumClasses) per image, all checked when it is built by New, Load,
// LoadFiles, LoadFS or LoadDir. Batch returns a new float32 N x C x H x W
// *tensor.Dense of gorgonia.org/tensor whose values are byte/255, so they
// lie in [0, 1] (robust.UnitBounds) with 0 and 255 mapping to exactly 0 and
// 1. Dataset implements robust.Dataset.
//
// Subset and Split return views: they share the pixels of their source and
// hold only a list of indices. That is safe because a Dataset is immutable;
// New copies its arguments and every accessor returns fresh memory.
//
// # Randomness
//
// Nothing here reads the clock. Batches shuffles with the *rand.Rand
// (math/rand/v2) it is given, or not at all when it is nil; EpochRand(seed,
// epoch) is the generator of one training epoch. Holdout, and Split through
// it, draw from seed alone. The same seed gives the same batches and
// splits, and they are the ones train.Trainer draws: it shuffles with
// EpochRand and holds out its Validation examples with Holdout, so
// data.Split(ds, v, seed) and a Trainer with Validation v and Seed seed hold
// out the same examples.
//
// # Concurrency
//
// A Dataset is safe for concurrent use: any number of goroutines may call
// Batch and the other methods at once, on a Dataset and on its views.
//
// # Errors
//
// No function panics on bad input. Errors say what was wrong and with which
// value, and wrap a sentinel for errors.Is: ErrFormat for a malformed file,
// ErrTooLarge for a header beyond the limits, ErrIndex for an example index
// out of range, robust.ErrShape for inconsistent sizes or counts,
// robust.ErrLabel for a label out of range and robust.ErrConfig for a bad
// option. Failures of the underlying reader are wrapped as they are.
package data
