package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
	"gorgonia.org/tensor"
)

// tinySpec is small enough that a few hundred MNIST steps take a second.
func tinySpec() nn.Spec {
	return nn.Spec{Input: [3]int{1, 28, 28}, Layers: []nn.Layer{
		nn.Conv2D{Out: 4, Kernel: 4, Stride: 2, Pad: 1}, nn.ReLU{},
		nn.Flatten{}, nn.Dropout{P: 0.1}, nn.Dense{Out: 10},
	}}
}

func newModel(t *testing.T, spec nn.Spec) *nn.Model {
	t.Helper()
	m, err := nn.New(spec, &nn.Options{Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func subset(t *testing.T, train bool, n int) *data.Dataset {
	t.Helper()
	ds, err := mnist.Test()
	if train {
		ds, err = mnist.Train()
	}
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	s, err := data.Subset(ds, idx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func weights(m *nn.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Value.Data().([]float32)...))
	}
	return out
}

func allIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func TestStandardTrainingLearns(t *testing.T) {
	m := newModel(t, tinySpec())
	tr := Trainer{Epochs: 2, BatchSize: 50, Schedule: Constant{Rate: 0.01}, Validation: 200, Seed: 3}
	h, err := tr.Fit(context.Background(), m, subset(t, true, 3000))
	if err != nil {
		t.Fatal(err)
	}
	clean, _, err := Accuracy(context.Background(), m, subset(t, false, 1000), allIdx(1000), nil, 250)
	if err != nil {
		t.Fatal(err)
	}
	// 3000 examples, two epochs of Adam: this near-linear model reaches ~88%
	// (measured), and a broken trainer stays near 10%.
	t.Logf("test accuracy %.3f", clean)
	if clean < 0.85 {
		t.Errorf("test accuracy %.3f, want >= 0.85", clean)
	}
	if len(h.Epochs) != 2 || !h.Epochs[1].Validated || h.Epochs[1].Loss >= h.Epochs[0].Loss || h.Steps != 2*56 {
		t.Errorf("unexpected history %+v", h)
	}
}

// TestResumeEqualsUninterrupted stops a TRADES training with dropout and
// Adam in the middle of an epoch, resumes it from its checkpoint and
// requires exactly the weights of an uninterrupted run.
func TestResumeEqualsUninterrupted(t *testing.T) {
	ds := subset(t, true, 400)
	base := Trainer{
		Method: TRADES{Eps: 0.1, Steps: 2, Beta: 1},
		Epochs: 2, BatchSize: 50, Schedule: Cyclic{Max: 0.01}, Seed: 5, Validation: 50,
	}
	ref := newModel(t, tinySpec())
	if _, err := base.Fit(context.Background(), ref, ds); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ckpt.json")
	interrupted := base
	interrupted.Checkpoint = path
	interrupted.CheckpointEvery = 2
	ctx, cancel := context.WithCancel(context.Background())
	interrupted.Progress = func(p Progress) {
		if p.Epoch == 1 && p.Batch == 2 {
			cancel()
		}
	}
	m := newModel(t, tinySpec())
	_, err := interrupted.Fit(ctx, m, ds)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no checkpoint after cancellation: %v", err)
	}
	// A fresh model: everything must come from the checkpoint.
	resumed := newModelWithSeed(t, 99)
	interrupted.Progress = nil
	h, err := interrupted.Fit(context.Background(), resumed, ds)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Resumed || len(h.Epochs) != 2 {
		t.Errorf("history after resume: %+v", h)
	}
	if !reflect.DeepEqual(weights(ref), weights(resumed)) {
		t.Error("resumed training ended with other weights than the uninterrupted one")
	}
	// A checkpoint of another training is refused.
	other := interrupted
	other.Seed = 6
	if _, err := other.Fit(context.Background(), newModel(t, tinySpec()), ds); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("foreign checkpoint: got %v, want ErrCheckpoint", err)
	}
}

func newModelWithSeed(t *testing.T, seed uint64) *nn.Model {
	m, err := nn.New(tinySpec(), &nn.Options{Seed: seed, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "c.json")
	tr := Trainer{Epochs: 1, Schedule: Constant{Rate: 0.01}, Checkpoint: path}
	if _, err := tr.Fit(ctx, newModel(t, tinySpec()), subset(t, true, 100)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
}

// nanData returns NaN pixels for the examples in poisoned.
type nanData struct {
	robust.Dataset
	poisoned map[int]bool
}

func (d nanData) Batch(idx []int) (*tensor.Dense, []int, error) {
	x, y, err := d.Dataset.Batch(idx)
	if err != nil {
		return nil, nil, err
	}
	for i, j := range idx {
		if d.poisoned[j] {
			x.Data().([]float32)[i*784+100] = float32(math.NaN())
		}
	}
	return x, y, nil
}

// nanGrads returns a NaN gradient at one step.
type nanGrads struct {
	*nn.Model
	at, calls int
}

func (m *nanGrads) TrainStep(ctx context.Context, x *tensor.Dense, l nn.TrainLoss) (nn.StepResult, error) {
	r, err := m.Model.TrainStep(ctx, x, l)
	if m.calls == m.at {
		r.Grads[0].Value.Data().([]float32)[0] = float32(math.NaN())
	}
	m.calls++
	return r, err
}

func finiteWeights(t *testing.T, m *nn.Model) {
	t.Helper()
	for _, w := range weights(m) {
		for _, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatal("a non-finite value reached the weights")
			}
		}
	}
}

func TestNonFiniteNeverReachesWeights(t *testing.T) {
	ds := nanData{Dataset: subset(t, true, 200), poisoned: map[int]bool{17: true}}
	for _, method := range []Method{nil, TRADES{Eps: 0.1, Steps: 1}} {
		m := newModel(t, tinySpec())
		tr := Trainer{Method: method, Epochs: 1, BatchSize: 50, Schedule: Constant{Rate: 0.01}}
		h, err := tr.Fit(context.Background(), m, ds)
		if err != nil {
			t.Fatal(err)
		}
		finiteWeights(t, m)
		if h.Skipped != 1 || h.Steps != 3 {
			t.Errorf("%v: skipped %d, steps %d; want 1 and 3", method, h.Skipped, h.Steps)
		}
		tr.NonFinite = Stop
		_, err = tr.Fit(context.Background(), m, ds)
		var nf *NonFiniteError
		if !errors.As(err, &nf) || !errors.Is(err, robust.ErrNonFinite) {
			t.Errorf("%v: Stop policy gave %v", method, err)
		}
		finiteWeights(t, m)
	}
	// A NaN gradient.
	ng := &nanGrads{Model: newModel(t, tinySpec()), at: 1}
	tr := Trainer{Epochs: 1, BatchSize: 50, Schedule: Constant{Rate: 0.01}}
	h, err := tr.Fit(context.Background(), ng, subset(t, true, 200))
	if err != nil {
		t.Fatal(err)
	}
	finiteWeights(t, ng.Model)
	if h.Skipped != 1 {
		t.Errorf("NaN gradient: skipped %d, want 1", h.Skipped)
	}
}

func TestClippingClipsForEveryOptimizer(t *testing.T) {
	const clipNorm = 0.05
	for _, opt := range []Optimizer{SGD{}, SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}, Adam{}} {
		m := newModel(t, tinySpec())
		maxSeen, maxClipped := 0.0, 0.0
		before := weights(m)
		tr := Trainer{Epochs: 1, BatchSize: 50, Optimizer: opt, Schedule: Constant{Rate: 0.5}, ClipNorm: clipNorm, ClipValue: 0.01,
			Progress: func(p Progress) {
				maxSeen = math.Max(maxSeen, p.GradNorm)
				maxClipped = math.Max(maxClipped, p.ClippedNorm)
			}}
		if _, err := tr.Fit(context.Background(), m, subset(t, true, 50)); err != nil {
			t.Fatal(err)
		}
		if maxSeen <= clipNorm {
			t.Fatalf("%T: gradients (norm %v) never needed clipping; the test proves nothing", opt, maxSeen)
		}
		if maxClipped > clipNorm*(1+1e-12) {
			t.Errorf("%T: optimizer received norm %v > %v", opt, maxClipped, clipNorm)
		}
		if o, ok := opt.(SGD); ok && o.Momentum == 0 {
			// One plain SGD step moves the weights by exactly lr * clipped gradient.
			delta := 0.0
			after := weights(m)
			for i := range after {
				for j := range after[i] {
					d := float64(after[i][j] - before[i][j])
					delta += d * d
				}
			}
			if math.Sqrt(delta) > 0.5*clipNorm*1.001 {
				t.Errorf("SGD moved the weights by %v > lr*clip %v", math.Sqrt(delta), 0.5*clipNorm)
			}
		}
	}
	g := [][]float64{{3, -4}, {0.5}}
	before, after, ok := clip(g, 1, 0)
	if !ok || g[0][0] != 1 || g[0][1] != -1 || g[1][0] != 0.5 || math.Abs(before-math.Sqrt(25.25)) > 1e-12 || math.Abs(after-1.5) > 1e-12 {
		t.Errorf("clip by value: %v, %v, %v", g, before, after)
	}
}

func TestSchedules(t *testing.T) {
	c := Cyclic{Max: 5e-3}
	cases := []struct{ t, want float64 }{{0, 0}, {2, 2.5e-3}, {4, 5e-3}, {7, 2.5e-3}, {10, 0}}
	for _, tc := range cases {
		if got := c.LR(tc.t, 10); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("Cyclic at %v: %v, want %v", tc.t, got, tc.want)
		}
	}
	p := Piecewise{Boundaries: []float64{2, 5}, Rates: []float64{1, 0.1, 0.01}}
	for _, tc := range []struct{ t, want float64 }{{0, 1}, {1.9, 1}, {2, 0.1}, {4.9, 0.1}, {5, 0.01}, {9, 0.01}} {
		if got := p.LR(tc.t, 10); got != tc.want {
			t.Errorf("Piecewise at %v: %v, want %v", tc.t, got, tc.want)
		}
	}
}

func TestOptimizerUpdates(t *testing.T) {
	// Adam's first step moves every weight by lr*sign(g) (up to epsilon).
	w := []float64{1, 2}
	st := [][]float64{make([]float64, 2), make([]float64, 2)}
	Adam{}.update(w, []float64{0.3, -2}, st, 0.1, 1)
	if math.Abs(w[0]-0.9) > 1e-6 || math.Abs(w[1]-2.1) > 1e-6 {
		t.Errorf("Adam first step: %v", w)
	}
	// SGD with momentum: v1 = g, v2 = m*v1 + g.
	w = []float64{1}
	v := [][]float64{{0}}
	SGD{Momentum: 0.5}.update(w, []float64{1}, v, 0.1, 1)
	SGD{Momentum: 0.5}.update(w, []float64{1}, v, 0.1, 2)
	if math.Abs(w[0]-(1-0.1-0.15)) > 1e-12 {
		t.Errorf("SGD momentum: %v", w[0])
	}
}

// TestTrainerValidate lists every invalid setting: each must fail Validate
// with an error in the one shape, "train: Type.Field = value, want ...",
// wrapping robust.ErrConfig, naming the field.
func TestTrainerValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	ok := Constant{Rate: 1}
	pgd := attack.PGD{Eps: 0.3, Steps: 2}
	bad := []struct {
		field string // the field the error must name
		tr    Trainer
	}{
		{"Trainer.Schedule", Trainer{}},
		{"Constant.Rate", Trainer{Schedule: Constant{}}},
		{"Constant.Rate", Trainer{Schedule: Constant{Rate: nan}}},
		{"Piecewise.Rates", Trainer{Schedule: Piecewise{Boundaries: []float64{1}, Rates: []float64{1}}}},
		{"Piecewise.Rates[1]", Trainer{Schedule: Piecewise{Boundaries: []float64{1}, Rates: []float64{1, -1}}}},
		{"Piecewise.Boundaries[1]", Trainer{Schedule: Piecewise{Boundaries: []float64{2, 1}, Rates: []float64{1, 1, 1}}}},
		{"Cyclic.Max", Trainer{Schedule: Cyclic{}}},
		{"Cyclic.Peak", Trainer{Schedule: Cyclic{Max: 1, Peak: 1}}},
		{"Trainer.Method", Trainer{Method: &TRADES{Eps: 0.3}, Schedule: ok}},
		{"Trainer.Method", Trainer{Method: &Standard{}, Schedule: ok}},
		{"Standard.Temperature", Trainer{Method: Standard{Temperature: -1}, Schedule: ok}},
		{"Standard.Temperature", Trainer{Method: Standard{Temperature: inf}, Schedule: ok}},
		{"Adversarial.Attack", Trainer{Method: Adversarial{}, Schedule: ok}},
		{"Adversarial.Attack", Trainer{Method: Adversarial{Attack: attack.PGD{}}, Schedule: ok}},
		{"Adversarial.Attack", Trainer{Method: Adversarial{Attack: attack.FGSMRS{Eps: nan}}, Schedule: ok}},
		{"Adversarial.CleanFraction", Trainer{Method: Adversarial{Attack: pgd, CleanFraction: 2}, Schedule: ok}},
		{"Adversarial.CleanFraction", Trainer{Method: Adversarial{Attack: pgd, CleanFraction: nan}, Schedule: ok}},
		{"TRADES.Eps", Trainer{Method: TRADES{}, Schedule: ok}},
		{"TRADES.Eps", Trainer{Method: TRADES{Eps: inf}, Schedule: ok}},
		{"TRADES.Steps", Trainer{Method: TRADES{Eps: 0.3, Steps: -1}, Schedule: ok}},
		{"TRADES.Step", Trainer{Method: TRADES{Eps: 0.3, Step: -0.1}, Schedule: ok}},
		{"TRADES.Step", Trainer{Method: TRADES{Eps: 0.3, Step: nan}, Schedule: ok}},
		{"TRADES.Beta", Trainer{Method: TRADES{Eps: 0.3, Beta: -1}, Schedule: ok}},
		{"TRADES.Beta", Trainer{Method: TRADES{Eps: 0.3, Beta: inf}, Schedule: ok}},
		{"Trainer.Epochs", Trainer{Schedule: ok, Epochs: -1}},
		{"Trainer.BatchSize", Trainer{Schedule: ok, BatchSize: -1}},
		{"SGD.Momentum", Trainer{Schedule: ok, Optimizer: SGD{Momentum: 1}}},
		{"SGD.WeightDecay", Trainer{Schedule: ok, Optimizer: SGD{WeightDecay: -1}}},
		{"SGD.Nesterov", Trainer{Schedule: ok, Optimizer: SGD{Nesterov: true}}},
		{"Adam.Beta1", Trainer{Schedule: ok, Optimizer: Adam{Beta1: 1}}},
		{"Adam.Beta2", Trainer{Schedule: ok, Optimizer: Adam{Beta2: -0.5}}},
		{"Adam.Epsilon", Trainer{Schedule: ok, Optimizer: Adam{Epsilon: -1}}},
		{"Adam.WeightDecay", Trainer{Schedule: ok, Optimizer: Adam{WeightDecay: nan}}},
		{"Trainer.ClipNorm", Trainer{Schedule: ok, ClipNorm: -1}},
		{"Trainer.ClipValue", Trainer{Schedule: ok, ClipValue: inf}},
		{"Trainer.NonFinite", Trainer{Schedule: ok, NonFinite: 7}},
		{"Trainer.Validation", Trainer{Schedule: ok, Validation: -1}},
		{"Trainer.CheckpointEvery", Trainer{Schedule: ok, CheckpointEvery: -1, Checkpoint: "c.json"}},
		{"Trainer.CheckpointEvery", Trainer{Schedule: ok, CheckpointEvery: 5}},
		{"EarlyStop.Attack", Trainer{Schedule: ok, EarlyStop: &EarlyStop{}}},
		{"EarlyStop.Attack", Trainer{Schedule: ok, EarlyStop: &EarlyStop{Attack: attack.PGD{Eps: -1}}}},
		{"EarlyStop.MaxDrop", Trainer{Schedule: ok, EarlyStop: &EarlyStop{Attack: pgd, MaxDrop: 1.5}}},
		{"EarlyStop.MaxDrop", Trainer{Schedule: ok, EarlyStop: &EarlyStop{Attack: pgd, MaxDrop: nan}}},
		{"EarlyStop.Rollbacks", Trainer{Schedule: ok, EarlyStop: &EarlyStop{Attack: pgd, Rollbacks: -1}}},
	}
	for _, c := range bad {
		err := c.tr.Validate()
		if !errors.Is(err, robust.ErrConfig) || !strings.HasPrefix(err.Error(), "train: "+c.field) {
			t.Errorf("%s: got %v, want \"train: %s ...\" wrapping ErrConfig", c.field, err, c.field)
		}
	}
	good := []Trainer{
		{Schedule: ok},
		{Method: Standard{Temperature: 20}, Schedule: ok},
		{Method: Adversarial{Attack: attack.FGSMRS{Eps: 0.3}, CleanFraction: 1}, Schedule: ok},
		{Method: Adversarial{Attack: scripted{}}, Schedule: ok}, // an attack without Validate
		{Method: TRADES{Eps: 0.3}, Schedule: ok, EarlyStop: &EarlyStop{Attack: pgd}},
		{Schedule: ok, Checkpoint: "c.json", CheckpointEvery: 5},
	}
	for _, tr := range good {
		if err := tr.Validate(); err != nil {
			t.Errorf("%+v: %v", tr, err)
		}
	}
	tr := Trainer{Schedule: ok, Validation: 100}
	if _, err := tr.Fit(context.Background(), newModel(t, tinySpec()), subset(t, true, 100)); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("Validation >= examples: got %v", err)
	}
}

func TestDistillation(t *testing.T) {
	const temp = 20
	ds := subset(t, true, 2000)
	teacher := newModel(t, tinySpec())
	tr := Trainer{Method: Standard{Temperature: temp}, Epochs: 2, BatchSize: 50, Schedule: Constant{Rate: 0.01}, Seed: 1}
	if _, err := tr.Fit(context.Background(), teacher, ds); err != nil {
		t.Fatal(err)
	}
	student := newModelWithSeed(t, 2)
	tr.Method = nil
	h, err := Distill(context.Background(), teacher, student, ds, temp, tr)
	if err != nil {
		t.Fatal(err)
	}
	test := subset(t, false, 1000)
	tAcc, _, _ := Accuracy(context.Background(), teacher, test, allIdx(1000), nil, 500)
	sAcc, _, _ := Accuracy(context.Background(), student, test, allIdx(1000), nil, 500)
	t.Logf("teacher %.3f, student %.3f, student loss %v", tAcc, sAcc, h.Epochs[len(h.Epochs)-1].Loss)
	// The student learns from soft labels alone: within a few points of
	// its teacher (measured: teacher 0.81, student 0.80; chance is 0.10).
	if sAcc < tAcc-0.05 || sAcc < 0.7 {
		t.Errorf("student accuracy %.3f, teacher %.3f", sAcc, tAcc)
	}
	for _, c := range []struct {
		name   string
		temp   float64
		method Method
	}{
		{"temperature 0", 0, nil},
		{"temperature NaN", math.NaN(), nil},
		{"another Standard temperature", temp, Standard{Temperature: 2}},
		{"TRADES", temp, TRADES{Eps: 0.1}},
		{"Adversarial", temp, Adversarial{Attack: scripted{}}},
	} {
		bad := tr
		bad.Method = c.method
		if _, err := Distill(context.Background(), teacher, student, ds, c.temp, bad); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", c.name, err)
		}
	}
	// Standard at the distillation temperature is what Distill uses.
	same := tr
	same.Method, same.Epochs = Standard{Temperature: temp}, 1
	if _, err := Distill(context.Background(), teacher, newModelWithSeed(t, 3), subset(t, true, 100), temp, same); err != nil {
		t.Errorf("Standard{Temperature: %v}: %v", float64(temp), err)
	}
}

func TestAugmentIsApplied(t *testing.T) {
	var seeds []uint64
	tr := Trainer{Epochs: 1, BatchSize: 50, Schedule: Constant{Rate: 0.01}, Seed: 4,
		Augment: func(ctx context.Context, x *tensor.Dense, seed uint64) (*tensor.Dense, error) {
			seeds = append(seeds, seed)
			// Blank images carry no signal: a model trained on them alone
			// stays at chance.
			return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(make([]float32, x.Shape().TotalSize()))), nil
		}}
	m := newModel(t, tinySpec())
	if _, err := tr.Fit(context.Background(), m, subset(t, true, 500)); err != nil {
		t.Fatal(err)
	}
	if len(seeds) != 10 || seeds[0] == seeds[1] {
		t.Errorf("Augment called with seeds %v", seeds)
	}
	acc, _, _ := Accuracy(context.Background(), m, subset(t, false, 500), allIdx(500), nil, 250)
	if acc > 0.3 {
		t.Errorf("accuracy %.3f after training on blank images: Augment was not used", acc)
	}
}

// TestAdamMatchesPyTorch replays three steps with changing learning rates;
// the expected weights are what torch.optim.Adam (PyTorch 1.13, float64)
// gives for the same gradients.
func TestAdamMatchesPyTorch(t *testing.T) {
	w := []float64{1, 2, -3}
	st := [][]float64{make([]float64, 3), make([]float64, 3)}
	for i, g := range [][]float64{{0.5, -1, 2}, {0.1, 0.3, -0.2}, {-0.4, 0, 1e-3}} {
		Adam{}.update(w, g, st, 0.01*float64(i+1), i+1)
	}
	want := []float64{0.9711281990689983, 2.0284788174876227, -3.0356060830497693}
	for i := range w {
		if math.Abs(w[i]-want[i]) > 1e-12 {
			t.Errorf("w[%d] = %v, PyTorch %v", i, w[i], want[i])
		}
	}
}

// scripted is a validation "attack" whose strength follows a script: its
// i-th call (one per epoch when the validation set is one batch) returns
// black images, which the model mostly gets wrong, when breaks[i] is true,
// and x itself otherwise. It lets a test cause a collapse on cue.
type scripted struct {
	breaks []bool
	calls  *int
}

func (s scripted) Perturb(ctx context.Context, m robust.Classifier, x *tensor.Dense, y []int) (*tensor.Dense, error) {
	i := *s.calls
	*s.calls++
	if i < len(s.breaks) && s.breaks[i] {
		return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.Of(tensor.Float32)), nil
	}
	return x, nil
}

// TestEarlyStopRollsBackOrStops causes collapses on cue: with a rollback
// left, training rewinds to the best epoch, trains the rest again with fresh
// randomness and reaches the end of its schedule; without one, it restores
// the best epoch and stops.
func TestEarlyStopRollsBackOrStops(t *testing.T) {
	ds := subset(t, true, 600)
	run := func(rollbacks int, breaks ...bool) (*History, []float64, [][]float32) {
		calls := 0
		var firstLoss []float64 // loss of the first batch of every epoch trained
		tr := Trainer{
			Epochs: 4, BatchSize: 100, Validation: 100, Schedule: Constant{Rate: 0.01}, Seed: 2,
			EarlyStop: &EarlyStop{Attack: scripted{breaks: breaks, calls: &calls}, MaxDrop: 0.1, Rollbacks: rollbacks},
			Progress: func(p Progress) {
				if p.Batch == 0 {
					firstLoss = append(firstLoss, p.Loss)
				}
			},
		}
		m := newModel(t, tinySpec())
		h, err := tr.Fit(context.Background(), m, ds)
		if err != nil {
			t.Fatal(err)
		}
		return h, firstLoss, weights(m)
	}
	epochs := func(h *History) []int {
		var out []int
		for _, e := range h.Epochs {
			out = append(out, e.Epoch)
		}
		return out
	}

	// One collapse at epoch 2, one rollback: epoch 2 is trained twice.
	h, first, _ := run(1, false, false, true)
	if got := epochs(h); !reflect.DeepEqual(got, []int{0, 1, 2, 2, 3}) {
		t.Fatalf("epochs trained %v, want [0 1 2 2 3]; history %+v", got, h)
	}
	if h.Rollbacks != 1 || h.EarlyStopped || !h.Epochs[2].Collapsed || h.Epochs[3].Collapsed {
		t.Errorf("history %+v", h)
	}
	if h.Epochs[1].ValRobust-h.Epochs[2].ValRobust <= 0.1 {
		t.Fatalf("the scripted collapse is not one: robust %v then %v", h.Epochs[1].ValRobust, h.Epochs[2].ValRobust)
	}
	// The retry starts from the same weights and optimizer state but must
	// draw other batches and random starts.
	if first[2] == first[3] {
		t.Errorf("the retried epoch saw the same first batch (loss %v): randomness was not refreshed", first[2])
	}

	// The same collapse without rollbacks stops with the best epoch's weights.
	h, _, w := run(0, false, false, true)
	if got := epochs(h); !reflect.DeepEqual(got, []int{0, 1, 2}) || !h.EarlyStopped || h.Rollbacks != 0 {
		t.Fatalf("epochs trained %v, history %+v", got, h)
	}
	// Training the best epoch's schedule alone gives the same weights.
	ref := newModel(t, tinySpec())
	calls := 0
	tr := Trainer{Epochs: h.BestEpoch + 1, BatchSize: 100, Validation: 100, Schedule: Constant{Rate: 0.01}, Seed: 2,
		EarlyStop: &EarlyStop{Attack: scripted{calls: &calls}, MaxDrop: 0.1}}
	if _, err := tr.Fit(context.Background(), ref, ds); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(weights(ref), w) {
		t.Errorf("early stop at a collapse did not restore epoch %d's weights", h.BestEpoch)
	}

	// A second collapse after the only rollback stops training.
	h, _, _ = run(1, false, false, true, false, true)
	if got := epochs(h); !reflect.DeepEqual(got, []int{0, 1, 2, 2, 3}) || !h.EarlyStopped || h.Rollbacks != 1 || !h.Epochs[4].Collapsed {
		t.Errorf("epochs trained %v, history %+v", got, h)
	}
}
