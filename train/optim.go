package train

import (
	"fmt"
	"math"

	"github.com/gorobust/gorobust/robust/nn"
)

// Optimizer defaults.
const (
	DefaultAdamBeta1   = 0.9
	DefaultAdamBeta2   = 0.999
	DefaultAdamEpsilon = 1e-8
)

// Optimizer is SGD or Adam. The values are configurations only: Fit keeps
// the optimizer's state (momentum, moment estimates) itself and stores it in
// checkpoints, so one Optimizer value can serve many trainings.
type Optimizer interface {
	name() string
	validate() error
	// buffers is the number of state slices per parameter.
	buffers() int
	// update applies one step to w given g, the state slices and the
	// 1-based step count.
	update(w []float64, g []float64, state [][]float64, lr float64, step int)
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and L2 weight decay, with PyTorch's update rule:
// v = momentum*v + (g + wd*w); w -= lr*v (or lr*(g + momentum*v) for Nesterov).
type SGD struct {
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
}

// Adam is Adam (Kingma and Ba 2015) with PyTorch's update rule and L2
// weight decay added to the gradient. Zero fields take the defaults
// DefaultAdamBeta1, DefaultAdamBeta2 and DefaultAdamEpsilon.
type Adam struct {
	Beta1, Beta2, Epsilon float64
	WeightDecay           float64
}

func (SGD) name() string  { return "sgd" }
func (Adam) name() string { return "adam" }

func (o SGD) validate() error {
	if !(o.Momentum >= 0 && o.Momentum < 1) {
		return configErr("SGD.Momentum = %v, want a value in [0, 1)", o.Momentum)
	}
	if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
		return configErr("SGD.WeightDecay = %v, want a finite value >= 0", o.WeightDecay)
	}
	if o.Nesterov && o.Momentum == 0 {
		return configErr("SGD.Nesterov = true with Momentum 0, want Momentum > 0")
	}
	return nil
}

func (o Adam) withDefaults() Adam {
	if o.Beta1 == 0 {
		o.Beta1 = DefaultAdamBeta1
	}
	if o.Beta2 == 0 {
		o.Beta2 = DefaultAdamBeta2
	}
	if o.Epsilon == 0 {
		o.Epsilon = DefaultAdamEpsilon
	}
	return o
}

func (o Adam) validate() error {
	d := o.withDefaults()
	if !(d.Beta1 > 0 && d.Beta1 < 1) {
		return configErr("Adam.Beta1 = %v, want a value in (0, 1) (0 means DefaultAdamBeta1)", o.Beta1)
	}
	if !(d.Beta2 > 0 && d.Beta2 < 1) {
		return configErr("Adam.Beta2 = %v, want a value in (0, 1) (0 means DefaultAdamBeta2)", o.Beta2)
	}
	if !(d.Epsilon > 0) || math.IsInf(d.Epsilon, 0) {
		return configErr("Adam.Epsilon = %v, want a finite value > 0 (0 means DefaultAdamEpsilon)", o.Epsilon)
	}
	if !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0) {
		return configErr("Adam.WeightDecay = %v, want a finite value >= 0", o.WeightDecay)
	}
	return nil
}

func (o SGD) buffers() int {
	if o.Momentum == 0 {
		return 0
	}
	return 1
}
func (Adam) buffers() int { return 2 }

func (o SGD) update(w, g []float64, state [][]float64, lr float64, step int) {
	for i := range w {
		d := g[i] + o.WeightDecay*w[i]
		if o.Momentum != 0 {
			v := state[0]
			if step == 1 {
				v[i] = d // PyTorch starts the buffer at the first gradient
			} else {
				v[i] = o.Momentum*v[i] + d
			}
			if o.Nesterov {
				d += o.Momentum * v[i]
			} else {
				d = v[i]
			}
		}
		w[i] -= lr * d
	}
}

func (o Adam) update(w, g []float64, state [][]float64, lr float64, step int) {
	o = o.withDefaults()
	m, v := state[0], state[1]
	c1 := 1 - math.Pow(o.Beta1, float64(step))
	c2 := 1 - math.Pow(o.Beta2, float64(step))
	for i := range w {
		d := g[i] + o.WeightDecay*w[i]
		m[i] = o.Beta1*m[i] + (1-o.Beta1)*d
		v[i] = o.Beta2*v[i] + (1-o.Beta2)*d*d
		w[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + o.Epsilon)
	}
}

// optState is an optimizer's state across steps.
type optState struct {
	Step    int           `json:"step"`
	Buffers [][][]float64 `json:"buffers"` // [param][buffer][value]
}

// clone returns a deep copy of s.
func (s *optState) clone() *optState {
	c := &optState{Step: s.Step, Buffers: make([][][]float64, len(s.Buffers))}
	for i, bs := range s.Buffers {
		for _, b := range bs {
			c.Buffers[i] = append(c.Buffers[i], append([]float64(nil), b...))
		}
	}
	return c
}

func newOptState(o Optimizer, ps []nn.ParamInfo) *optState {
	s := &optState{Buffers: make([][][]float64, len(ps))}
	for i, p := range ps {
		size := 1
		for _, d := range p.Shape {
			size *= d
		}
		for b := 0; b < o.buffers(); b++ {
			s.Buffers[i] = append(s.Buffers[i], make([]float64, size))
		}
	}
	return s
}

// apply performs one optimizer step on the model's live parameters.
func (s *optState) apply(m Model, o Optimizer, grads [][]float64, lr float64) error {
	s.Step++
	return m.Update(func(ps []nn.Param) error {
		for i, p := range ps {
			switch d := p.Value.Data().(type) {
			case []float32:
				w := make([]float64, len(d))
				for j, v := range d {
					w[j] = float64(v)
				}
				o.update(w, grads[i], s.Buffers[i], lr, s.Step)
				for j, v := range w {
					d[j] = float32(v)
				}
			case []float64:
				o.update(d, grads[i], s.Buffers[i], lr, s.Step)
			default:
				return fmt.Errorf("train: parameter %s has dtype %v", p.Name, p.Value.Dtype())
			}
		}
		return nil
	})
}
