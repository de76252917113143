package train

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`     // mean training loss over applied steps
	Accuracy float64 `json:"accuracy"` // on the examples trained on (adversarial ones for Adversarial)
	LR       float64 `json:"lr"`       // at the epoch's last batch
	Skipped  int     `json:"skipped"`  // batches dropped for non-finite values
	// Validated reports whether the validation figures were measured.
	Validated         bool    `json:"validated"`
	ValAccuracy       float64 `json:"val_accuracy"`
	ValRobust         float64 `json:"val_robust_accuracy"` // under EarlyStop.Attack, if set
	DurationSeconds   float64 `json:"duration_seconds"`
	ImagesPerSecond   float64 `json:"images_per_second"`
	ValRobustMeasured bool    `json:"val_robust_measured"`
	// Collapsed marks an epoch whose robust accuracy fell by more than
	// EarlyStop.MaxDrop; its weights were discarded.
	Collapsed bool `json:"collapsed,omitempty"`
}

// History is what Fit did.
type History struct {
	// Method names the training method: "standard", "pgd-at" (Adversarial
	// with attack.PGD), "fgsm-rs" (with attack.FGSMRS), "adversarial" (with
	// another attack) or "trades".
	Method       string       `json:"method"`
	Epochs       []EpochStats `json:"epochs"`
	Steps        int          `json:"steps"`
	Skipped      int          `json:"skipped"`
	EarlyStopped bool         `json:"early_stopped"`
	// BestEpoch is the epoch whose weights the model holds after an early
	// stop.
	BestEpoch int  `json:"best_epoch"`
	Resumed   bool `json:"resumed"`
	// Rollbacks counts the collapses that rewound training to the best
	// epoch (EarlyStop.Rollbacks). Epochs lists every epoch trained,
	// including the discarded ones, in order.
	Rollbacks int `json:"rollbacks"`
}
