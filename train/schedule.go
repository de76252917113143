package train

import (
	"fmt"
	"math"
	"sort"
)

// Schedule gives the learning rate at a point of training. t is the number
// of epochs done so far, fractional within an epoch (t = epoch +
// (batch+1)/batches, as in the FGSM-RS reference code), and total the
// number of epochs.
type Schedule interface {
	LR(t, total float64) float64
	validate() error
}

// Constant is a fixed learning rate.
type Constant struct{ Rate float64 }

// Piecewise uses Rates[i] from epoch Boundaries[i-1] on (Rates[0] before
// Boundaries[0]); len(Rates) must be len(Boundaries)+1.
type Piecewise struct {
	Boundaries []float64
	Rates      []float64
}

// Cyclic is the one-cycle triangular schedule of Wong et al. (2020): the
// rate rises linearly from 0 to Max at fraction Peak of training, then falls
// linearly back to 0 at the end. If Peak is 0, 2/5 is used.
type Cyclic struct {
	Max  float64
	Peak float64
}

// DefaultCyclicPeak is where Cyclic peaks when Peak is 0.
const DefaultCyclicPeak = 0.4

func (c Constant) LR(t, total float64) float64 { return c.Rate }

func (p Piecewise) LR(t, total float64) float64 {
	i := sort.SearchFloat64s(p.Boundaries, t)
	if i < len(p.Boundaries) && p.Boundaries[i] == t {
		i++
	}
	return p.Rates[i]
}

func (c Cyclic) LR(t, total float64) float64 {
	peak := c.Peak
	if peak == 0 {
		peak = DefaultCyclicPeak
	}
	top := peak * total
	if t <= top {
		return c.Max * t / top
	}
	return math.Max(0, c.Max*(total-t)/(total-top))
}

func checkRate(what string, r float64) error {
	if !(r >= 0) || math.IsInf(r, 0) {
		return configErr("%s = %v, want a finite value >= 0", what, r)
	}
	return nil
}

func (c Constant) validate() error {
	if err := checkRate("Constant.Rate", c.Rate); err != nil {
		return err
	}
	if c.Rate == 0 {
		return configErr("Constant.Rate = 0, want > 0: training would change nothing")
	}
	return nil
}

func (p Piecewise) validate() error {
	if len(p.Rates) != len(p.Boundaries)+1 {
		return configErr("Piecewise.Rates has %d rates for %d boundaries, want %d", len(p.Rates), len(p.Boundaries), len(p.Boundaries)+1)
	}
	for i, r := range p.Rates {
		if err := checkRate(fmt.Sprintf("Piecewise.Rates[%d]", i), r); err != nil {
			return err
		}
	}
	for i := 1; i < len(p.Boundaries); i++ {
		if !(p.Boundaries[i] > p.Boundaries[i-1]) {
			return configErr("Piecewise.Boundaries[%d] = %v, want > Boundaries[%d] = %v", i, p.Boundaries[i], i-1, p.Boundaries[i-1])
		}
	}
	return nil
}

func (c Cyclic) validate() error {
	if err := checkRate("Cyclic.Max", c.Max); err != nil {
		return err
	}
	if c.Max == 0 {
		return configErr("Cyclic.Max = 0, want > 0: training would change nothing")
	}
	if !(c.Peak >= 0 && c.Peak < 1) {
		return configErr("Cyclic.Peak = %v, want a value in [0, 1) (0 means DefaultCyclicPeak)", c.Peak)
	}
	return nil
}
