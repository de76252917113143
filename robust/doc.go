// Package robust is the shared vocabulary of gorobust: the interfaces every
// model, attack, defense and trainer speaks, the objectives attacks ascend, and
// the sentinel errors callers test with errors.Is. It holds nothing else, so
// that every other package can import it.
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
// # Norms
//
// A Norm (LInf or L2) measures a perturbation per example in pixel space;
// attacks, suites and reports share it, and Norm.Distances checks a batch of
// adversarial examples against a budget.
//
// # Where the rest lives
//
// Models and model files are in robust/nn, datasets in robust/data, shipped
// trained models in robust/zoo, evaluation (Evaluate, suites, reports) in
// robust/eval, attacks in attack, defenses in defense and training in train.
//
// # Errors
//
// Data-dependent failures are errors, never panics. Sentinel errors defined
// here are wrapped with %w and carry the offending value in their message.
package robust
