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
// weights are out x in; convolution weights out x in x kh x kw). Programs
// read the master weights in place, under the Net's read lock: the
// engine's ops never write their inputs. (Gorgonia's own matmul transposes
// its operands in place, so the built-in path the tests compare against
// gives each program a copy, refreshed when the master's version changes.)
// A graph is not safe for concurrent use, so concurrency comes from
// replicas: a batch is split into contiguous chunks, one per worker, each
// run on a replica of its own. Splitting the batch beats splitting each
// product: at batch 128 over half the time of a step is outside the GEMMs
// (receptive fields, epilogues, Gorgonia's interpreter), and replicas run
// all of it in parallel.
//
// # Kernels
//
// Convolution, dense layers, ReLU, max pooling, dropout and reshapes are
// custom ops (conv.go, whose receptive-field layouts are in im2col.go;
// dense.go, elementwise.go, maxpool.go) over package gemm's SIMD GEMM: a convolution is one GEMM of the batch's receptive
// fields (N*oh*ow x Cin*k*k) with the transposed weights, a ReLU after a
// convolution or dense layer is fused into its bias epilogue, and between
// two convolutions activations stay position-major (NHWC) so that the
// receptive fields are long contiguous runs. Every op keeps its output and
// scratch buffers across runs (the TapeMachine's Reset drops the buffers
// it allocates itself), so a step allocates almost nothing beyond the
// results it returns. Backward ops are split per input (x, weights, bias)
// and programs ask only for what they use: no weight gradients in attack
// programs, no input gradient of the first layer in training programs.
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
