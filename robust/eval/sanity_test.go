package eval_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

// sanityExamples is the number of MNIST test examples each sanity test
// evaluates: enough for every flag's model to show itself, few enough to
// keep each test around a second.
const sanityExamples = 30

// evalFlags evaluates m on the first sanityExamples MNIST test images and
// returns the report.
func evalFlags(t *testing.T, m robust.Classifier, s eval.Suite) *eval.Report {
	t.Helper()
	_, ds := standardMNIST(t)
	r, err := eval.Evaluate(context.Background(), m, ds, s, &eval.EvaluateOptions{Examples: sanityExamples, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantFlags checks which flags are tripped; every other flag must be clear.
func wantFlags(t *testing.T, r *eval.Report, tripped ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, n := range tripped {
		want[n] = true
	}
	for _, f := range r.Sanity {
		if f.Tripped != want[f.Name] {
			t.Errorf("flag %s tripped = %v, want %v (%s)", f.Name, f.Tripped, want[f.Name], f.Detail)
		}
		if f.Tripped && !f.Checked {
			t.Errorf("flag %s tripped without being checked", f.Name)
		}
	}
}

func TestSanityHealthyModel(t *testing.T) {
	m, _ := standardMNIST(t)
	// At 0.2 and 0.3 PGD-20 breaks every example of the undefended model,
	// so Square cannot break one it missed.
	r := evalFlags(t, m, eval.Suite{Epsilons: []float64{0.2, 0.3}, Attacks: []eval.SuiteAttack{pgd(20), square(20)}})
	wantFlags(t, r)
	for _, f := range r.Sanity {
		if !f.Checked {
			t.Errorf("flag %s not checked on a differentiable model with a full suite: %s", f.Name, f.Detail)
		}
	}
}

func TestSanityProbabilityOutputs(t *testing.T) {
	m, _ := standardMNIST(t)
	r := evalFlags(t, softmaxModel{m}, eval.Suite{Epsilons: []float64{0.3}, Attacks: []eval.SuiteAttack{square(20)}, LargeEps: -1})
	wantFlags(t, r, eval.FlagProbabilities)
	if f := flag(t, r, eval.FlagZeroGradient); f.Checked {
		t.Errorf("zero-gradient checked on a model without gradients: %s", f.Detail)
	}
}

func TestSanityStochasticModel(t *testing.T) {
	m, _ := standardMNIST(t)
	noisy := &noisyModel{Differentiable: m, rng: rand.New(rand.NewPCG(1, 2))}
	r := evalFlags(t, noisy, eval.Suite{Epsilons: []float64{0.3}, Attacks: []eval.SuiteAttack{pgd(5)}, LargeEps: -1})
	if f := flag(t, r, eval.FlagStochastic); !f.Tripped {
		t.Errorf("stochastic model not flagged: %s", f.Detail)
	}
}

func TestSanityZeroGradient(t *testing.T) {
	m, _ := standardMNIST(t)
	r := evalFlags(t, gradFault{Differentiable: m}, eval.Suite{Epsilons: []float64{0.3}, Attacks: []eval.SuiteAttack{pgd(5)}, LargeEps: -1})
	wantFlags(t, r, eval.FlagZeroGradient)
}

func TestSanityNonFiniteGradient(t *testing.T) {
	m, _ := standardMNIST(t)
	nan := gradFault{Differentiable: m, value: float32(math.NaN())}
	// Square needs no gradients, so the evaluation completes and reports.
	r := evalFlags(t, nan, eval.Suite{Epsilons: []float64{0.3}, Attacks: []eval.SuiteAttack{square(20)}, LargeEps: -1})
	wantFlags(t, r, eval.FlagNonFiniteGradient)
}

func TestSanityGradientMasking(t *testing.T) {
	m, _ := standardMNIST(t)
	// Five grey levels: a Linf change of 0.2 moves a pixel to the next one,
	// so the model is as easy to fool as before, but the gradient is zero.
	masked := quantized{Differentiable: m, levels: 4}
	r := evalFlags(t, masked, eval.Suite{Epsilons: []float64{0.2}, Attacks: []eval.SuiteAttack{pgd(10), square(100)}, LargeEps: -1})
	if f := flag(t, r, eval.FlagGradientMasking); !f.Tripped {
		t.Errorf("masked gradients not flagged: %s", f.Detail)
	}
	res := r.Results[0]
	if res.Attacks[1].Robust.Correct >= res.Attacks[0].Robust.Correct {
		t.Errorf("Square left %d robust, PGD %d: the test model should mask PGD", res.Attacks[1].Robust.Correct, res.Attacks[0].Robust.Correct)
	}
}

func TestSanityAccuracyRisesWithEps(t *testing.T) {
	m, _ := standardMNIST(t)
	// A PGD whose step size was tuned for small budgets and not rescaled: at
	// eps above 0.15 its 10 steps of 1e-4 go nowhere, so robust accuracy
	// climbs back to the clean accuracy.
	misScaled := eval.SuiteAttack{Name: "PGD-fixed-step", New: func(e float64) robust.Attack {
		step := 2.5 * e / 10
		if e > 0.15 {
			step = 1e-4
		}
		return attack.PGD{Eps: e, Steps: 10, Step: step, NoRandomStart: true}
	}}
	r := evalFlags(t, m, eval.Suite{Epsilons: []float64{0.1, 0.2, 0.3}, Attacks: []eval.SuiteAttack{misScaled}, LargeEps: -1})
	wantFlags(t, r, eval.FlagEpsNotMonotone)
}

func TestSanityLargeEpsNotBroken(t *testing.T) {
	// A model that ignores its input: its clean accuracy is the share of
	// class 1, and no budget changes any prediction.
	logits := make([]float64, 10)
	logits[1] = 5
	m, err := testmodel.NewConstant(testmodel.Shape{C: 1, H: 28, W: 28}, logits)
	if err != nil {
		t.Fatal(err)
	}
	r := evalFlags(t, m, eval.Suite{Epsilons: []float64{0.1, 0.3}, Attacks: []eval.SuiteAttack{pgd(3)}})
	if r.Clean.Correct == 0 {
		t.Fatal("no example of class 1 among the test examples; the check needs one")
	}
	// Its input gradient is zero too, which the zero-gradient check sees.
	wantFlags(t, r, eval.FlagLargeEps, eval.FlagZeroGradient)
	last := r.Results[len(r.Results)-1]
	if !last.LargeEpsCheck || last.Eps != 1 {
		t.Errorf("last result eps %v check %v, want the large-epsilon check at 1", last.Eps, last.LargeEpsCheck)
	}
}
