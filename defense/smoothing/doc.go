// Package smoothing implements randomized smoothing (Cohen, Rosenfeld and
// Kolter, "Certified Adversarial Robustness via Randomized Smoothing", ICML
// 2019, https://arxiv.org/abs/1902.02918): a base classifier f becomes the
// smoothed classifier g(x) = argmax_c P(f(x + e) = c), e ~ N(0, sigma^2 I),
// whose prediction provably cannot change within an L2 radius of
// sigma * Phi^-1(pA), where pA bounds the top class's probability from
// below.
//
//	tr := train.Trainer{Augment: smoothing.Noise{Sigma: 0.25}.Augment, ...} // train f on noise
//	s, err := smoothing.New(model, 0.25, nil)
//	certs, err := s.Certify(ctx, x, 100, 100000, 0.001) // n0, n, alpha
//
// # Procedure and guarantees
//
// Certify and Predict are the paper's CERTIFY and PREDICT, with the same
// statistics: a one-sided Clopper-Pearson bound (LowerConfidenceBound, the
// Beta quantile of gonum) and an exact two-sided binomial test. With
// probability at least 1 - alpha over the sampling, a certified class is
// g's on the whole ball of the returned radius, and a predicted class is
// g's at x; otherwise they return Abstain (-1). Nothing is certified for
// the base classifier f itself, and nothing beyond the L2 ball.
//
// Noisy inputs are clipped to the base classifier's Bounds, in training
// (Noise) and in certification alike, so the base classifier is in effect
// f(clip(.)); the theorem holds for any base classifier, so the
// certificates stay valid. The paper does not clip.
//
// Certified accuracies on MNIST, with the command that measures them
// (`go run ./examples/smoothing`), are in docs/experiments.md.
//
// # Randomness, cost and concurrency
//
// Example i's noise is drawn from a PCG generator seeded by Options.Seed,
// the phase (selection, estimation or prediction) and a hash
// of its values, so results are a function of the seed and the input: they
// do not depend on Options.Batch, on the rest of the batch or on earlier
// calls. Certify costs n0 + n base classifier evaluations per example,
// Predict n; ctx is checked before every batch of noisy copies. A Smoothed
// value is immutable and safe for concurrent use whenever the base
// classifier is.
package smoothing
