// Package robust is the shared vocabulary of gorobust: the interfaces every
// model, attack, defense and trainer speaks, the objectives attacks ascend, and
// the sentinel errors callers test with errors.Is.
//
// # Inputs
//
// Images are float32 *tensor.Dense values in NCHW layout whose entries lie in
// the model's Bounds (usually [0, 1]). Normalisation (mean and standard
// deviation) is a layer inside the model, so epsilons are always measured in
// pixel space: an Linf epsilon of 0.3 means 0.3 of the full pixel range.
//
// # Outputs
//
// A Classifier returns N x K logits, never probabilities. A Differentiable
// classifier also returns, for an Objective, each example's objective value
// and the gradient of their sum with respect to the input. Attacks always
// ascend an objective; targeted objectives are defined so that ascending them
// moves toward the target class.
//
// # Concurrency
//
// Implementations of Classifier and Differentiable in this module are safe for
// concurrent use unless their documentation says otherwise. Objective values are
// read-only during a call and may be shared between goroutines.
//
// # Evaluation
//
// Evaluate runs a Suite (attacks built for each of a list of epsilons) over a
// Dataset and returns a Report: clean accuracy; per epsilon, robust accuracy
// per attack and over the per-example worst case (clean mistakes count as
// not robust); perturbation norms; model calls and time; sanity flags from
// the AutoAttack and Carlini et al. checklists (zero or non-finite start
// gradients, a black-box attack beating the white-box ones, accuracy not
// falling with eps or not reaching zero at a large eps, stochastic or
// probability outputs); and every setting needed to reproduce the run.
// Reports are JSON (schema "gorobust.report/v1") and text tables; shards of
// one evaluation (Shard) Merge into exactly the single-run report. Ready
// suites live in attack/suite, plots in robust/report.
//
// # Errors
//
// Data-dependent failures are errors, never panics. Sentinel errors defined
// here are wrapped with %w and carry the offending value in their message.
package robust
