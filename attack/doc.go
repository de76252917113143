// Package attack implements adversarial attacks on image classifiers: FGSM,
// FGSMRS, PGD, APGD, APGDT and Square. Every attack is a config struct that
// implements robust.Attack; hyper-parameters are fields, data arrive at call
// time, and one attack value serves any number of models:
//
//	a := attack.PGD{Eps: 0.3, Steps: 40}
//	xAdv, err := a.Perturb(ctx, model, x, y)
//
// # Inputs
//
// x is a float32 N x C x H x W tensor with every value finite and inside
// m.Bounds(); y holds N true labels in [0, m.NumClasses()). Eps is measured in
// the model's pixel units (8/255 is not 0.031 when the bounds are [0, 255]).
// Gradient attacks (FGSM, PGD, APGD, APGDT) need a robust.Differentiable and
// return an error wrapping robust.ErrNoGradient for any other model; Square
// needs only Logits. Targeted attacks implement Targeted and take one target
// class per example.
//
// # Outputs
//
// When err is nil, Perturb returns a fresh tensor of x's shape; x is never
// modified. Whatever an attack's inner loop did, its result passes one shared
// final step that projects it onto the Eps ball around x and clips it to the
// model's Bounds, so that for every example ||x_adv - x|| <= Eps holds
// exactly when computed in float64 from the float32 values, and x_adv lies
// in Bounds. When err is not nil the returned tensor is nil.
//
// Attacks always ascend a robust.Objective (the Loss field): cross-entropy
// (the default), the Carlini-Wagner margin or DLR; a targeted call ascends the
// targeted counterpart, which moves toward the target. Success means the
// argmax differs from the label (untargeted) or equals the target
// (targeted). Attacks with restarts keep each example's worst case: the
// first candidate that succeeded, otherwise the one of highest loss. Clean
// misclassifications are not special-cased: eval.Evaluate counts them as
// not robust.
//
// # The attacks
//
// FGSM: Goodfellow, Shlens and Szegedy, "Explaining and Harnessing
// Adversarial Examples", ICLR 2015, https://arxiv.org/abs/1412.6572. LInf
// (sign of the gradient) or L2 (normalised gradient). One step of length Eps.
// Cost: 1 LossGrad call. Deterministic.
//
// FGSMRS: Wong, Rice and Kolter, "Fast is better than free: Revisiting
// adversarial training", ICLR 2020, https://arxiv.org/abs/2001.03994. LInf.
// FGSM of length 1.25*Eps from a uniform random start that is not clipped to
// the bounds, as in the reference code: the training attack of FGSM-RS
// adversarial training. Cost: 1 LossGrad call. Randomized.
//
// PGD: Madry, Makelov, Schmidt, Tsipras and Vladu, "Towards Deep Learning
// Models Resistant to Adversarial Attacks", ICLR 2018,
// https://arxiv.org/abs/1706.06083. LInf or L2. Defaults: 40 steps of
// 2.5*Eps/Steps, random start uniform in the ball (on; GaussianStart makes
// it x plus small Gaussian noise), 1 restart. Cost: at most Restarts*Steps
// LossGrad calls and Restarts Logits calls. Randomized. PGD.Ascend runs the
// same iteration on any robust.Objective the caller gives (TRADES ascends
// the KL divergence from the clean probabilities with it).
//
// APGD: Croce and Hein, "Reliable evaluation of adversarial robustness with
// an ensemble of diverse parameter-free attacks", ICML 2020,
// https://arxiv.org/abs/2003.01690. LInf or L2. Defaults: 100 iterations,
// initial step 2*Eps, momentum 0.75, rho 0.75, 1 restart, cross-entropy (DLR
// for APGD-DLR). Cost per run: Steps+1 LossGrad calls, plus as many Logits
// calls with cross-entropy. Randomized.
//
// APGDT: the same paper's APGD-T, APGD on the targeted DLR loss toward each
// of the 9 most likely other classes in turn; an untargeted attack. Cost:
// up to 9*Restarts APGD runs, each Steps+1 LossGrad and Logits calls.
// Randomized. Needs at least 4 classes.
//
// Square: Andriushchenko, Croce, Flammarion and Hein, "Square Attack: a
// query-efficient black-box adversarial attack via random search", ECCV
// 2020, https://arxiv.org/abs/1912.00049. LInf, score-based (no gradients).
// Defaults: 5000 queries, p_init 0.8. Cost: at most MaxQueries Logits calls.
// Randomized.
//
// The cost counts calls on at most N examples; restarts and later Square
// queries run only on the examples not yet broken.
//
// # Defaults and validation
//
// A zero field takes the documented default, exported as a constant
// (DefaultPGDSteps and so on); Eps has no default. Validate reports bad
// hyper-parameters (Eps not finite or <= 0, negative counts, a set step
// size <= 0, an unknown Norm or Loss) as errors wrapping robust.ErrConfig;
// Perturb also rejects an Eps wider than the model's input range. A bad
// parameter is never clamped silently. Labels or targets of the wrong length
// or out of range wrap robust.ErrLabel; a malformed x wraps robust.ErrShape,
// a value outside the bounds robust.ErrBounds, a NaN robust.ErrNonFinite.
// Errors start with "attack: ".
//
// # Randomness, cancellation and concurrency
//
// Randomized attacks draw from a PCG generator (math/rand/v2) seeded by their
// Seed field; every seed, including 0, is a fixed seed, so equal seeds give
// equal outputs on a deterministic model. The clock is never used. PGD,
// APGD, APGDT and Square implement robust.Reseedable: WithSeed returns a
// copy with another seed, so a trainer can draw fresh starts per batch.
//
// Perturb checks ctx before every step, iteration or query and passes it to
// the model; when ctx is done it returns an error wrapping ctx.Err().
//
// Attack values are read-only during Perturb: one value may be shared by many
// goroutines. Perturb is safe for concurrent use whenever the model's Logits
// and LossGrad are.
package attack
