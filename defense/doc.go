// Package defense wraps image classifiers with inference-time defenses and
// makes them attackable honestly: input preprocessing (JPEG recompression,
// random resizing and padding, bit-depth reduction, median filtering,
// Gaussian noise, and chains of them) behind Protect, whose gradients are
// BPDA and EOT; confidence rejection (Reject); ensembles (Ensemble,
// EnsembleLogits); and output hardening against model extraction (Harden).
// Randomized smoothing with certificates lives in the subpackage smoothing.
//
//	jpeg, err := defense.Protect(model, nil, defense.JPEG{Quality: 20})
//	xAdv, err := attack.PGD{Eps: 0.3}.Perturb(ctx, jpeg, x, y) // BPDA
//
// # Preprocessors
//
// A Preprocessor maps a float32 N x C x H x W batch with finite values in
// bounds b to a new batch of the same shape with values in b; it never
// modifies its input and rejects bad parameters and bad inputs with errors
// (wrapping robust.ErrConfig, robust.ErrShape, robust.ErrBounds or
// robust.ErrNonFinite), never clamping a parameter silently. A zero field
// takes the default its comment names (exported as a constant); BitDepth.Bits
// and GaussianNoise.Sigma have none.
//
//	preprocessor     paper                             randomized  gradient in Protect   28x28 image
//	JPEG{Quality}    Dziugaite et al. 2016; Das 2017   no          BPDA (smooth JPEG)    0.3 ms
//	RandomResizePad  Xie et al., ICLR 2018             yes         exact (affine map)    0.17 ms
//	BitDepth{Bits}   Xu, Evans and Qi, NDSS 2018       no          BPDA (identity)       25 us
//	Median{Size}     Xu, Evans and Qi, NDSS 2018       no          BPDA (identity)       50 us (2x2)
//	GaussianNoise    Athalye et al. 2018 (as broken)   yes         identity (x + noise)  40 us
//	Chain{...}       -                                 if any is   each stage's own      sum of stages
//
// (Times: BenchmarkPreprocessors on one busy core.)
// Each type's documentation gives the full reference. JPEG matches libjpeg:
// see JPEG and testdata/jpeg.
//
// # Honest gradients: BPDA and EOT
//
// A defended model's robustness must never be measured with gradients that
// the defense breaks (REFERENCES.md, pitfall 7; Athalye, Carlini and
// Wagner, "Obfuscated Gradients Give a False Sense of Security", ICML 2018,
// https://arxiv.org/abs/1802.00420). Protected.LossGrad therefore returns
// the model's gradient at the preprocessed input carried back
// through every stage: by the stage's exact backward pass when it has one
// (DifferentiablePreprocessor: RandomResizePad), by the backward pass of a
// differentiable approximation when it offers one (ApproximatedPreprocessor:
// JPEG, grey and colour), and by the identity when it has neither (BPDA);
// in a chain, each stage's backward pass runs at that stage's own input.
// For randomized preprocessing the loss and gradient are
// averaged over Options.EOTSamples draws (EOT; default 10). Protect offers
// no other gradient. The naive ones, which overstate robustness, are built
// in examples/defenses only to show what they hide: the shattered gradient
// (what automatic differentiation reports: zero through JPEG's and
// BitDepth's rounding), the unprocessed one (the undefended model's
// gradient at the input, a transfer attack) and BPDA with the identity in
// place of JPEG's smooth backward pass.
//
// docs/experiments.md measures what the naive gradients hide on MNIST
// (`go run ./examples/defenses`): JPEG looks robust under the shattered
// gradient and under BPDA with the identity, and adds no robustness under
// BPDA through the smooth JPEG.
//
// # Randomness and concurrency
//
// Randomized preprocessors seed example i from their seed and the bits of
// example i's values, so their output is a function of
// (seed, input) alone. Protect derives each draw's seed from Options.Seed,
// the purpose (prediction or gradient) and the draw's index. Hence a
// Protected model is deterministic for a seed whatever the call order, the
// batch composition or the number of goroutines, with no state to guard; a
// new input (every attack iterate) draws fresh randomness, as EOT needs;
// and the draws Logits uses are independent of those LossGrad averaged
// over. The flip side: equal inputs under equal seeds get equal noise, and
// an attacker who knows the seed knows the draws (as a white-box evaluator
// should); a deployment that must hide its randomness should keep its seed
// secret.
//
// Preprocessors, Chains and Hardening values are read-only and may be
// shared. Protected, Rejecting, ensembles and Hardened are immutable after
// construction and safe for concurrent use whenever the wrapped models are.
// Everything that runs long takes a context and checks it per image or per
// model call.
//
// # Gradients of wrappers
//
// Ensemble and Reject need the gradient of a function of their members'
// logits. A member that is a robust.LogitsVJPer (nn.Model is) gives it in
// one backward pass: one Logits call and one LogitsVJP call per member.
// Any other robust.Differentiable differentiates only objectives, and the
// wrappers obtain the gradient exactly from the KL objective: for a
// cotangent g on the logits (summing to zero, as it does for every
// softmax-based quantity), with positive and negative parts of mass S, the
// KL gradients at references g+/S and g-/S differ by exactly g/S, at the
// cost of one LossGrad call on twice the batch. For an ensemble of two
// MNIST CNNs on 100 images the direct path measured 7,300-8,900 images/s
// against 5,100-5,800 (BenchmarkEnsembleLossGrad, 4 runs each).
//
// # Rejection, ensembles, hardening
//
// Reject abstains when the top softmax probability is below a threshold.
// To code that only knows robust.Classifier it has K+1 classes, the last
// one meaning "abstain", so any evaluator counts abstentions as not correct;
// Predict and Score (a Tally) report them. Ensemble averages probabilities,
// EnsembleLogits logits; both are differentiable. Harden reveals only
// labels, the top k probabilities or rounded probabilities, and is not
// differentiable by design: it models a served API.
package defense
