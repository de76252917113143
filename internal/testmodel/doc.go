// Package testmodel provides small, exact, pure-Go classifiers and synthetic
// data for testing attacks and defenses without the Gorgonia engine.
//
// # Models
//
// MLP is a one-hidden-layer ReLU network, or a linear softmax classifier when
// it has no hidden layer, on float32 N x C x H x W inputs. It implements
// robust.Differentiable: LossGrad takes dloss/dlogits from robust.Objective.Eval
// and backpropagates it exactly in float64, so attack tests exercise the same
// objectives a real model uses. A finite-difference test checks the gradient.
//
// NoGrad hides a model's gradients, for score-based attacks and for the
// robust.ErrNoGradient path of gradient attacks.
//
// Trained returns an MLP fitted in well under a second to Blobs, a
// seeded synthetic problem that small perturbations can break, together with
// a held-out batch, so strength tests have something real to attack.
//
// # Contracts
//
// Models are read-only after construction and safe for concurrent use. Every
// constructor is deterministic for a given seed. Inputs are never mutated.
package testmodel
