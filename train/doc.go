// Package train trains robust.Differentiable models, nn.Model in
// particular, with standard training, PGD adversarial training (Madry et al.
// 2018), FGSM with random start (Wong et al. 2020) with early stopping
// against catastrophic overfitting, and TRADES (Zhang et al. 2019); with
// SGD or Adam, learning-rate schedules, gradient clipping, guards against
// non-finite values, defensive distillation, atomic checkpoints and exact
// resumption.
//
// # Contracts
//
// A Trainer is a configuration; Fit validates it and never changes it, so
// one Trainer may run several trainings, also concurrently on different
// models. Fit trains one model and must be the only writer of its weights
// while it runs.
//
// Attacks that make training examples run on the model in evaluation mode
// (no dropout): they call Logits and LossGrad, which always are.
//
// A non-finite input, loss or gradient never reaches the weights: the batch
// is skipped and counted (SkipStep, the default) or training stops with a
// *NonFiniteError (Stop).
//
// # Reproducibility
//
// Shuffling, attack random starts (for attacks implementing
// robust.Reseedable), TRADES starts and dropout masks are drawn from
// Trainer.Seed, the epoch and the step number, never from the clock. A
// training resumed from a checkpoint therefore ends with exactly the weights
// of an uninterrupted one (for the same model Options.Workers).
package train
