// Package train trains image classifiers to be robust. What it trains is a
// Model: a robust.Differentiable that also computes training steps and
// takes weight updates, which *nn.Model (package robust/nn) implements;
// in practice, an nn.Model built from an nn.Spec.
//
// A Trainer holds the settings and Fit runs them on a robust.Dataset. The
// training method is a value that carries its own settings:
//
//	train.Trainer{Schedule: train.Constant{Rate: 1e-3}}           // standard training (Method nil)
//	train.Trainer{Method: train.Standard{Temperature: 20}, ...}    // a distillation teacher
//	train.Trainer{Method: train.Adversarial{Attack: attack.FGSMRS{Eps: 0.3}}, ...} // FGSM-RS
//	train.Trainer{Method: train.Adversarial{Attack: attack.PGD{Eps: 0.3}, CleanFraction: 0.5}, ...} // PGD-AT
//	train.Trainer{Method: train.TRADES{Eps: 0.3, Beta: 1}, ...}    // TRADES
//
// Standard training, PGD adversarial training (Madry et al. 2018) and FGSM
// with random start (Wong et al. 2020) with early stopping against
// catastrophic overfitting (EarlyStop, with any method), and TRADES (Zhang
// et al. 2019); with SGD or Adam, learning-rate schedules, gradient
// clipping, guards against non-finite values, defensive distillation
// (Distill), atomic checkpoints and exact resumption.
//
// # Contracts
//
// A Trainer is a configuration; Fit validates it and never changes it, so
// one Trainer may run several trainings, also concurrently on different
// models. Fit trains one model and must be the only writer of its weights
// while it runs. Validate rejects every setting that would not be used as
// written (a pointer Method, CheckpointEvery without a Checkpoint, a
// negative count, a non-finite rate, an attack whose own Validate fails)
// with an error "train: Type.Field = value, want ..." wrapping
// robust.ErrConfig; zero fields take the defaults their comments name,
// exported as constants.
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
// Trainer.Seed, the epoch and the step number, never from the clock. The
// shuffle of epoch e is data.Batches with data.EpochRand(Seed, e), and the
// validation examples are data.Holdout's, so data.Split holds out the same
// ones for the same seed. A training resumed from a checkpoint therefore
// ends with exactly the weights of an uninterrupted one (for the same model
// Options.Workers).
package train
