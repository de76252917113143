package train

import (
	"fmt"
	"math"

	"github.com/gorobust/gorobust/robust"
)

// NonFinitePolicy says what Fit does when a loss or gradient is not finite.
type NonFinitePolicy int

const (
	// SkipStep drops the batch's update and counts it in the history.
	SkipStep NonFinitePolicy = iota
	// Stop ends training with a *NonFiniteError.
	Stop
)

// NonFiniteError reports a NaN or infinity in a batch, loss or gradient
// under the Stop policy. It wraps robust.ErrNonFinite.
type NonFiniteError struct {
	Epoch, Batch int
	What         string
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("train: non-finite %s at epoch %d, batch %d", e.What, e.Epoch, e.Batch)
}

func (e *NonFiniteError) Unwrap() error { return robust.ErrNonFinite }

// nonFinite applies the policy to a non-finite batch, loss or gradient.
func (r *run) nonFinite(what string) error {
	if r.cfg.NonFinite == Stop {
		return &NonFiniteError{Epoch: r.st.Epoch, Batch: r.st.Batch, What: what}
	}
	r.st.Skipped++
	r.st.History.Skipped++
	return nil
}

func finite32(d []float32) bool {
	for _, v := range d {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
