// Package engine is the only package of gorobust that imports Gorgonia. It
// turns a validated list of layers into Gorgonia graphs, compiles and caches
// one program per (purpose, batch size), and runs them on replicas.
//
// # Programs
//
// A program is a graph plus a TapeMachine for one purpose (forward logits,
// input gradient of an objective, or a training step) and one batch size.
// Every objective goes through one custom loss op whose forward calls a Go
// LossFunc and whose backward multiplies the gradient that LossFunc returned,
// so one compiled program serves every objective and the objective code is
// ordinary, tested Go rather than graph expressions.
//
// # Weights and replicas
//
// A Net owns one master copy of the weights, in PyTorch layouts (dense
// weights are out x in; convolution weights out x in x kh x kw). Each program
// holds its own copy, refreshed from the master when the master's version
// changed: Gorgonia transposes matmul operands in place, so two graphs that
// run at once must never share a weight tensor. A graph is not safe for
// concurrent use, so concurrency comes from replicas: a batch is split into
// contiguous chunks, one per worker, each run on a replica of its own.
//
// # Gorgonia workarounds
//
// Gorgonia's Dropout and BatchNorm ops have wrong gradients, so neither is
// used: dropout is a mask input multiplied in, scaled by 1/(1-p); input
// normalisation is a per-channel affine op of our own. Weights are
// initialised by the caller from explicit seeds, never by Gorgonia's
// clock-seeded initialisers. Panics inside Gorgonia are recovered and
// returned as errors. Results are copied out before the machine is reset.
package engine
