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
// The table below is the demonstration, measured on the undefended MNIST
// reference CNN of robust/zoo (zoo.MNISTStandard), on the first 1000 MNIST
// test images. Robust accuracy (%) counts an example when both it and its
// adversarial example are classified correctly; PGD has a random start and
// step 2.5*eps/steps unless a step is given, "stop" freezes an example at
// its first adversarial iterate and with restarts an example is robust only
// if no restart breaks it; APGD-CE runs 100 iterations; the randomized
// defense predicts with one draw, as deployed; seed 1 everywhere.
// Reproduce it with `go run ./examples/defenses -n 1000` (14 minutes on
// two busy cores).
//
//	defense, gradient, attack                                    clean  Linf 0.1  Linf 0.3
//	undefended model, PGD-40                                     98.3   25.8      0.0
//	undefended model, APGD-CE                                    98.3   23.3      0.0
//	undefended model, PGD-100 x 10, step 0.01, stop              98.3   23.0      0.0
//	JPEG q=20, shattered gradient (autodiff: zero), PGD-40       98.3   98.2      98.0
//	JPEG q=20, undefended model's gradient at x, PGD-40          98.3   52.4      0.0
//	JPEG q=20, BPDA identity, PGD-40                             98.3   50.9      0.0
//	JPEG q=20, BPDA identity, APGD-CE                            98.3   40.2      0.0
//	JPEG q=20, BPDA identity, PGD-100 x 10, step 0.01, stop      98.3   37.9      0.0
//	JPEG q=20, BPDA smooth JPEG, PGD-40                          98.3   30.6      0.0
//	JPEG q=20, BPDA smooth JPEG, APGD-CE                         98.3   23.3      0.0
//	JPEG q=20, BPDA smooth JPEG, PGD-100 x 10, step 0.01, stop   98.3   22.1      0.0
//	RandomResizePad, undefended model's gradient, PGD-40         96.5   55.0      0.0
//	RandomResizePad, BPDA + EOT 1, FGSM                          96.5   69.7      4.3
//	RandomResizePad, BPDA + EOT 10, FGSM                         96.5   65.1      4.7
//	RandomResizePad, BPDA + EOT 30, FGSM                         96.5   63.1      5.6
//	RandomResizePad, BPDA + EOT 1, PGD-10                        96.5   50.5      0.0
//	RandomResizePad, BPDA + EOT 10, PGD-10                       96.5   41.4      0.1
//	RandomResizePad, BPDA + EOT 30, PGD-10                       96.5   42.9      0.1
//	RandomResizePad, BPDA + EOT 1, PGD-40                        96.5   46.2      0.0
//	RandomResizePad, BPDA + EOT 10, PGD-40                       96.5   41.8      0.0
//
// What it shows. The naive evaluation with the gradient automatic
// differentiation gives (zero through JPEG) reports JPEG q=20 as almost
// perfectly robust at eps 0.3 (98.0%); BPDA brings it to 0.0%, the
// undefended model's figure. At eps 0.1 the choice of BPDA's backward pass
// decides the verdict. With the identity, the simplest BPDA, JPEG keeps
// 37.9 to 50.9% against the undefended model's 23.0 to 25.8%, and more
// steps, restarts, other losses or Square do not close the gap: it looks
// like a defense. With the backward pass of a smooth JPEG (the default; see
// JPEG.ApproxBackward), the same attacks leave 22.1 to 30.6%, within 5
// points of the undefended model and equal to it under APGD-CE: JPEG
// compression adds no robustness. The identity spreads the attack's budget
// over DCT coefficients that quantisation erases; the smooth JPEG weights
// each coefficient by how close it is to a rounding boundary. For
// RandomResizePad (canvas 31/28, Xie et al.'s ratio) EOT with 10 draws is
// stronger than 1 draw at eps 0.1 under every attack (65.1 against 69.7
// for FGSM, 41.4 against 50.5 for PGD-10, 41.8 against 46.2 for PGD-40);
// 30 draws add little over 10. Because every iterate draws fresh
// randomness, PGD with one draw per step is already a stochastic EOT. Robust
// accuracies of randomized defenses also vary with the prediction draw.
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
// shared. Protected, Rejecting, Ensembled and Hardened are immutable after
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
