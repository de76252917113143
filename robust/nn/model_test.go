package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

// smallSpec has every layer kind, a stride-2 convolution and both poolings,
// and is small enough for finite differences over every input.
func smallSpec() Spec {
	return Spec{
		Input: [3]int{2, 10, 10},
		Layers: []Layer{
			Normalize{Mean: []float64{0.5, 0.4}, Std: []float64{0.3, 0.2}},
			Conv2D{Out: 4, Kernel: 3, Stride: 2, Pad: 1}, ReLU{}, // 4x5x5
			MaxPool2D{Kernel: 2, Stride: 1}, // 4x4x4
			AvgPool2D{Kernel: 2, Stride: 2}, // 4x2x2
			Flatten{}, Dense{Out: 12}, Dropout{P: 0.2}, ReLU{}, Dense{Out: 6},
		},
	}
}

func randImages(n int, s Spec, seed uint64) *tensor.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := make([]float32, n*s.Input[0]*s.Input[1]*s.Input[2])
	for i := range d {
		d[i] = rng.Float32()
	}
	return tensor.New(tensor.WithShape(n, s.Input[0], s.Input[1], s.Input[2]), tensor.WithBacking(d))
}

func mustNew(t testing.TB, s Spec, o *Options) *Model {
	t.Helper()
	m, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func data32(t *tensor.Dense) []float32 { return t.Data().([]float32) }

func TestSameSeedSameModel(t *testing.T) {
	a := mustNew(t, ReferenceCNN(), &Options{Seed: 7})
	b := mustNew(t, ReferenceCNN(), &Options{Seed: 7, Workers: 1})
	c := mustNew(t, ReferenceCNN(), &Options{Seed: 8})
	pa, pb, pc := a.Params(), b.Params(), c.Params()
	for i := range pa {
		if !reflect.DeepEqual(pa[i].Value.Data(), pb[i].Value.Data()) {
			t.Errorf("%s differs for the same seed", pa[i].Name)
		}
		if reflect.DeepEqual(pa[i].Value.Data(), pc[i].Value.Data()) {
			t.Errorf("%s equal for different seeds", pa[i].Name)
		}
	}
	// PyTorch's default bound is 1/sqrt(fan_in): 1/sqrt(16*4*4) for 2.weight.
	bound := float32(1 / math.Sqrt(256))
	mx := float32(0)
	for _, v := range data32(pa[2].Value) {
		mx = max(mx, float32(math.Abs(float64(v))))
	}
	if pa[2].Name != "2.weight" || mx > bound || mx < 0.9*bound {
		t.Errorf("%s: max |w| = %v, want just under %v", pa[2].Name, mx, bound)
	}
	x := randImages(5, ReferenceCNN(), 1)
	za, err := a.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	za2, _ := a.Logits(context.Background(), x)
	if !reflect.DeepEqual(data32(za), data32(za2)) {
		t.Error("logits are not deterministic")
	}
	// Another split of the batch changes the GEMM blocking, so only the
	// last bits may differ.
	zb, _ := b.Logits(context.Background(), x)
	for i, v := range data32(zb) {
		if math.Abs(float64(v-data32(za)[i])) > 1e-6 {
			t.Errorf("logit %d: %v with 1 worker, %v with %d", i, v, data32(za)[i], runtime.GOMAXPROCS(0))
		}
	}
}

func TestInputsNotMutated(t *testing.T) {
	s := smallSpec()
	m := mustNew(t, s, nil)
	x := randImages(4, s, 2)
	adv := randImages(4, s, 3)
	keep, keepAdv := append([]float32(nil), data32(x)...), append([]float32(nil), data32(adv)...)
	labels := []int{0, 1, 2, 3}
	ctx := context.Background()
	if _, err := m.Logits(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.LossGrad(ctx, x, robust.Objective{Kind: robust.CrossEntropy, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TrainStep(ctx, x, TrainLoss{Kind: TRADES, Labels: labels, Adv: adv, Beta: 1}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keep, data32(x)) || !reflect.DeepEqual(keepAdv, data32(adv)) {
		t.Error("an input was modified")
	}
	if !reflect.DeepEqual(labels, []int{0, 1, 2, 3}) {
		t.Error("labels were modified")
	}
}

// TestInputGradients checks d(sum of objective)/dx of a float64 model against
// central finite differences, for every objective kind.
func TestInputGradients(t *testing.T) {
	s := smallSpec()
	m := mustNew(t, s, &Options{Float64: true, Seed: 3, Workers: 2})
	const n = 3
	x32 := randImages(n, s, 4)
	x := make([]float64, len(data32(x32)))
	for i, v := range data32(x32) {
		x[i] = float64(v)
	}
	shape := x32.Shape().Clone()
	ctx := context.Background()
	ref := []float64{0.1, 0.2, 0.3, 0.2, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 1, 0, 0, 0, 0, 0}
	objs := []robust.Objective{
		{Kind: robust.CrossEntropy, Labels: []int{0, 3, 5}},
		{Kind: robust.TargetedCrossEntropy, Labels: []int{0, 3, 5}, Targets: []int{1, 1, 2}},
		{Kind: robust.Margin, Labels: []int{0, 3, 5}},
		{Kind: robust.TargetedMargin, Labels: []int{0, 3, 5}, Targets: []int{1, 1, 2}},
		{Kind: robust.DLR, Labels: []int{0, 3, 5}},
		{Kind: robust.TargetedDLR, Labels: []int{0, 3, 5}, Targets: []int{1, 1, 2}},
		{Kind: robust.KL, Reference: ref},
	}
	for _, obj := range objs {
		_, grad, err := m.lossGradNative(ctx, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x)), n, obj)
		if err != nil {
			t.Fatalf("%v: %v", obj.Kind, err)
		}
		f := func(v []float64) float64 {
			l, _, err := m.lossGradNative(ctx, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)), n, obj)
			if err != nil {
				t.Fatal(err)
			}
			sum := 0.0
			for _, x := range l {
				sum += x
			}
			return sum
		}
		want := fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central, Step: 1e-6})
		checkClose(t, obj.Kind.String(), grad.Data().([]float64), want)
	}
}

// checkClose allows 1e-5 relative error (absolute near zero): float64
// central differences at step 1e-6 are good to ~1e-8 away from the kinks of
// ReLU and max, and the slack covers the rare input that sits near one.
func checkClose(t *testing.T, what string, got, want []float64) {
	t.Helper()
	worst, at := 0.0, 0
	for i := range want {
		e := math.Abs(got[i]-want[i]) / math.Max(1e-3, math.Max(math.Abs(got[i]), math.Abs(want[i])))
		if e > worst {
			worst, at = e, i
		}
	}
	if worst > 1e-5 {
		t.Errorf("%s: gradient[%d] = %v, finite differences %v (relative error %g)", what, at, got[at], want[at], worst)
	}
}

// TestTrainStepGradients checks parameter gradients of every training loss
// against finite differences of the loss TrainStep reports.
func TestTrainStepGradients(t *testing.T) {
	s := smallSpec()
	m := mustNew(t, s, &Options{Float64: true, Seed: 5, Workers: 2})
	const n = 4
	x := randImages(n, s, 6)
	labels := []int{1, 0, 5, 2}
	soft := tensor.New(tensor.WithShape(n, 6), tensor.WithBacking([]float32{
		0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.1, 0.1,
		0, 0, 0, 0, 0, 1, 0.3, 0.3, 0.4, 0, 0, 0}))
	losses := []TrainLoss{
		{Kind: HardLabels, Labels: labels, Seed: 1},
		{Kind: HardLabels, Labels: labels, Temperature: 3, Seed: 2},
		{Kind: SoftTargets, Soft: soft, Temperature: 2, Seed: 3},
		{Kind: TRADES, Labels: labels, Adv: randImages(n, s, 7), Beta: 2, Seed: 4},
	}
	ctx := context.Background()
	for li, loss := range losses {
		r, err := m.TrainStep(ctx, x, loss)
		if err != nil {
			t.Fatal(err)
		}
		grads := r.Grads
		for pi, p := range m.Params() {
			w := append([]float64(nil), p.Value.Data().([]float64)...)
			set := func(v []float64) {
				_ = m.Update(func(ps []Param) error { copy(ps[pi].Value.Data().([]float64), v); return nil })
			}
			f := func(v []float64) float64 {
				set(v)
				r, err := m.TrainStep(ctx, x, loss)
				if err != nil {
					t.Fatal(err)
				}
				return r.Loss
			}
			want := fd.Gradient(nil, f, w, &fd.Settings{Formula: fd.Central, Step: 1e-6})
			set(w)
			checkClose(t, p.Name+" loss "+string(rune('0'+li)), grads[pi].Value.Data().([]float64), want)
		}
	}
}

func TestFloat32AgreesWithFloat64(t *testing.T) {
	s := ReferenceCNN()
	m32 := mustNew(t, s, &Options{Seed: 9})
	m64 := mustNew(t, s, &Options{Seed: 9, Float64: true})
	x := randImages(6, s, 8)
	obj := robust.Objective{Kind: robust.CrossEntropy, Labels: []int{0, 1, 2, 3, 4, 5}}
	ctx := context.Background()
	l32, g32, err := m32.LossGrad(ctx, x, obj)
	if err != nil {
		t.Fatal(err)
	}
	l64, g64, err := m64.LossGrad(ctx, x, obj)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l32 {
		if math.Abs(float64(l32[i]-l64[i])) > 1e-5 {
			t.Errorf("loss[%d]: float32 %v, float64 %v", i, l32[i], l64[i])
		}
	}
	// Gradients agree to float32 rounding: 1e-4 of the largest entry.
	a, b := data32(g32), data32(g64)
	scale := 0.0
	for _, v := range b {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-4*scale {
			t.Fatalf("grad[%d]: float32 %v, float64 %v", i, a[i], b[i])
		}
	}
}

// TestConcurrentUse runs Logits and LossGrad of one model from several
// goroutines (run it with -race) and compares against serial results.
func TestConcurrentUse(t *testing.T) {
	s := ReferenceCNN()
	m := mustNew(t, s, &Options{Seed: 1, Workers: 2})
	ctx := context.Background()
	type result struct {
		z, g []float32
	}
	const jobs = 6
	xs := make([]*tensor.Dense, jobs)
	want := make([]result, jobs)
	obj := func(i int) robust.Objective {
		return robust.Objective{Kind: robust.CrossEntropy, Labels: []int{i % 10, (i + 1) % 10, (i + 2) % 10}}
	}
	for i := range xs {
		xs[i] = randImages(3, s, uint64(i))
		z, err := m.Logits(ctx, xs[i])
		if err != nil {
			t.Fatal(err)
		}
		_, g, err := m.LossGrad(ctx, xs[i], obj(i))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = result{data32(z), data32(g)}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*jobs)
	for r := 0; r < 4; r++ {
		for i := 0; i < jobs; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				z, err := m.Logits(ctx, xs[i])
				if err != nil || !reflect.DeepEqual(data32(z), want[i].z) {
					errs <- "logits differ from the serial run"
					return
				}
				_, g, err := m.LossGrad(ctx, xs[i], obj(i))
				if err != nil || !reflect.DeepEqual(data32(g), want[i].g) {
					errs <- "gradient differs from the serial run"
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestBadInputs(t *testing.T) {
	m := mustNew(t, ReferenceCNN(), nil)
	ctx := context.Background()
	good := randImages(2, ReferenceCNN(), 1)
	nan := randImages(2, ReferenceCNN(), 1)
	data32(nan)[5] = float32(math.NaN())
	wrong := tensor.New(tensor.WithShape(2, 1, 28, 27), tensor.WithBacking(make([]float32, 2*28*27)))
	f64 := tensor.New(tensor.WithShape(1, 1, 28, 28), tensor.WithBacking(make([]float64, 784)))
	for name, x := range map[string]*tensor.Dense{"nil": nil, "nan": nan, "shape": wrong, "dtype": f64} {
		if _, err := m.Logits(ctx, x); err == nil {
			t.Errorf("Logits accepted %s input", name)
		}
	}
	if _, _, err := m.LossGrad(ctx, good, robust.Objective{Kind: robust.CrossEntropy, Labels: []int{0, 10}}); err == nil {
		t.Error("LossGrad accepted label 10")
	}
	bad := []TrainLoss{
		{Kind: HardLabels, Labels: []int{0}},
		{Kind: HardLabels, Labels: []int{0, 1}, Temperature: -1},
		{Kind: TRADES, Labels: []int{0, 1}, Adv: good},
		{Kind: TRADES, Labels: []int{0, 1}, Beta: 1},
		{Kind: SoftTargets},
		{Kind: 42, Labels: []int{0, 1}},
	}
	for i, l := range bad {
		if _, err := m.TrainStep(ctx, good, l); err == nil {
			t.Errorf("TrainStep accepted bad loss %d", i)
		}
	}
	if err := m.SetParams(m.Params()[:2]); err == nil {
		t.Error("SetParams accepted too few parameters")
	}
	ps := m.Params()
	ps[0].Value.Data().([]float32)[0] = float32(math.Inf(1))
	if err := m.SetParams(ps); err == nil {
		t.Error("SetParams accepted an infinite weight")
	}
}

func TestTrainStepPredictions(t *testing.T) {
	s := ReferenceCNN()
	m := mustNew(t, s, &Options{Seed: 2})
	x := randImages(5, s, 3)
	r, err := m.TrainStep(context.Background(), x, TrainLoss{Labels: []int{0, 1, 2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	z, _ := m.Logits(context.Background(), x)
	want, _ := tensors.Argmax(z)
	if !reflect.DeepEqual(r.Predicted, want) {
		t.Errorf("TrainStep predicted %v, Logits give %v", r.Predicted, want)
	}
}

// TestFloat32TrainStepAgreesWithFloat64 compares the parameter gradients of
// the float32 path (the one training uses) with the float64 path that the
// finite-difference tests check.
func TestFloat32TrainStepAgreesWithFloat64(t *testing.T) {
	s := ReferenceCNN()
	m32 := mustNew(t, s, &Options{Seed: 4})
	m64 := mustNew(t, s, &Options{Seed: 4, Float64: true})
	x := randImages(8, s, 5)
	loss := TrainLoss{Labels: []int{0, 1, 2, 3, 4, 5, 6, 7}}
	ctx := context.Background()
	r32, err := m32.TrainStep(ctx, x, loss)
	if err != nil {
		t.Fatal(err)
	}
	g32 := r32.Grads
	r64, err := m64.TrainStep(ctx, x, loss)
	if err != nil {
		t.Fatal(err)
	}
	g64 := r64.Grads
	for i := range g32 {
		a, b := data32(g32[i].Value), g64[i].Value.Data().([]float64)
		scale := 0.0
		for _, v := range b {
			scale = math.Max(scale, math.Abs(v))
		}
		for j := range a {
			if math.Abs(float64(a[j])-b[j]) > 1e-4*scale {
				t.Fatalf("%s[%d]: float32 %v, float64 %v", g32[i].Name, j, a[j], b[j])
			}
		}
	}
}

// TestLogitsVJP checks LogitsVJP against central differences of
// sum_i <g_i, z_i(x)> (float64 model), its bad-input errors, and that it
// leaves its inputs unchanged.
func TestLogitsVJP(t *testing.T) {
	s := smallSpec()
	m := mustNew(t, s, &Options{Float64: true, Seed: 5, Workers: 2})
	const n, k = 3, 6
	x32 := randImages(n, s, 6)
	rng := rand.New(rand.NewPCG(7, 8))
	g := make([]float64, n*k)
	for i := range g {
		g[i] = rng.NormFloat64()
	}
	ctx := context.Background()
	xBefore, gBefore := append([]float32(nil), data32(x32)...), append([]float64(nil), g...)
	vjp, err := m.LogitsVJP(ctx, x32, g)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(data32(x32), xBefore) || !reflect.DeepEqual(g, gBefore) {
		t.Fatal("LogitsVJP modified its inputs")
	}
	// <g, z(x)> as a function of the input values, in float64.
	f := func(v []float64) float64 {
		in := make([]float32, len(v))
		for i, e := range v {
			in[i] = float32(e)
		}
		_, xin, err := m.input(tensor.New(tensor.WithShape(x32.Shape().Clone()...), tensor.WithBacking(in)))
		if err != nil {
			t.Fatal(err)
		}
		copy(xin.Data().([]float64), v) // keep the full float64 perturbation
		z, err := m.net.Logits(ctx, xin)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for i, zv := range z.Data().([]float64) {
			sum += g[i] * zv
		}
		return sum
	}
	x := make([]float64, len(xBefore))
	for i, v := range xBefore {
		x[i] = float64(v)
	}
	want := fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central, Step: 1e-6})
	for i, w := range want {
		if got := float64(data32(vjp)[i]); math.Abs(got-w) > 1e-4*math.Max(1, math.Abs(w)) {
			t.Fatalf("LogitsVJP[%d] = %v, central differences %v", i, got, w)
		}
	}
	if _, err := m.LogitsVJP(ctx, x32, g[:n*k-1]); !errors.Is(err, robust.ErrShape) {
		t.Errorf("short cotangents: got %v, want ErrShape", err)
	}
	bad := append([]float64(nil), g...)
	bad[4] = math.NaN()
	if _, err := m.LogitsVJP(ctx, x32, bad); !errors.Is(err, robust.ErrNonFinite) {
		t.Errorf("NaN cotangent: got %v, want ErrNonFinite", err)
	}
}
