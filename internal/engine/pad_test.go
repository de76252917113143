package engine

import (
	"context"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// eachSlot calls fn on every scratch buffer of net's replicas, holding all
// the replicas meanwhile.
func eachSlot(net *Net, fn func(s any)) {
	for range net.workers {
		r := <-net.replicas
		defer func() { net.replicas <- r }()
		for _, s := range r.pad.slots {
			fn(s)
		}
	}
}

// padBytes is the scratch memory of net's replicas.
func padBytes(net *Net) int {
	total := 0
	eachSlot(net, func(s any) {
		switch b := s.(type) {
		case *[]float32:
			total += 4 * cap(*b)
		case *[]float64:
			total += 8 * cap(*b)
		case *[]int:
			total += 8 * cap(*b)
		}
	})
	return total
}

// poison fills the float scratch buffers of net's replicas with NaN, the
// worst that another program could leave in them.
func poison(net *Net) {
	eachSlot(net, func(s any) {
		switch b := s.(type) {
		case *[]float32:
			full := (*b)[:cap(*b)]
			for i := range full {
				full[i] = float32(math.NaN())
			}
		case *[]float64:
			full := (*b)[:cap(*b)]
			for i := range full {
				full[i] = math.NaN()
			}
		}
	})
}

// outputs runs every kind of program on x: logits, the input gradient and
// one training step's parameter gradients (returned, not applied).
func outputs(t *testing.T, net *Net, x *tensor.Dense) [][]float64 {
	t.Helper()
	ctx := context.Background()
	n := x.Shape()[0]
	labels := make([]int, n)
	for i := range labels {
		labels[i] = (3 * i) % net.classes
	}
	z, err := net.Logits(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	loss, gx, err := net.LossGrad(ctx, x, ceLoss(labels, 1))
	if err != nil {
		t.Fatal(err)
	}
	total, grads, err := net.Train(ctx, halves(x, labels, 1/float64(n)), 9)
	if err != nil {
		t.Fatal(err)
	}
	out := [][]float64{copied(z), loss, copied(gx), {total}}
	for _, g := range grads {
		out = append(out, copied(g))
	}
	return out
}

// copied returns a copy of a tensor's values as float64: programs reuse
// their output buffers.
func copied(t *tensor.Dense) []float64 { return append([]float64(nil), values(t)...) }

// TestProgramsShareScratch checks that a replica's programs share their
// scratch buffers: results do not depend on what other programs left in
// them, even NaN (bit for bit, against a fresh net), and the scratch memory after
// many batch sizes is that of the largest one alone.
func TestProgramsShareScratch(t *testing.T) {
	for _, arch := range testArchs {
		t.Run(arch.name, func(t *testing.T) {
			for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
				x := archInput(arch.layers, dt, 6, 11)
				want := outputs(t, newArchNet(t, arch.layers, dt, 1), x)

				used := newArchNet(t, arch.layers, dt, 1)
				for i, n := range []int{40, 2, 17, 8} {
					outputs(t, used, archInput(arch.layers, dt, n, uint64(20+i)))
				}
				poison(used)
				got := outputs(t, used, x)
				for i := range want {
					for j := range want[i] {
						if math.Float64bits(got[i][j]) != math.Float64bits(want[i][j]) {
							t.Fatalf("%v: output %d[%d] = %v after other programs ran, %v on a fresh net", dt, i, j, got[i][j], want[i][j])
						}
					}
				}

				largest := newArchNet(t, arch.layers, dt, 1)
				outputs(t, largest, archInput(arch.layers, dt, 40, 20))
				if a, b := padBytes(used), padBytes(largest); a != b || b == 0 {
					t.Errorf("%v: scratch after batches of 40, 2, 17, 8 and 6 rows: %d bytes; after 40 alone: %d", dt, a, b)
				}
			}
		})
	}
}

// TestLargeBatchesRunInBoundedChunks checks that Logits and LossGrad split
// a large batch into programs of at most MaxChunkRows rows, with the same
// results as smaller calls.
func TestLargeBatchesRunInBoundedChunks(t *testing.T) {
	net := newArchNet(t, fusedLayers, tensor.Float32, 2)
	n := 2*MaxChunkRows + 37
	x := archInput(fusedLayers, tensor.Float32, n, 5)
	z, err := net.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range net.workers {
		r := <-net.replicas
		for k := range r.progs {
			if k.n > MaxChunkRows {
				t.Errorf("replica %d built a %d-row program", i, k.n)
			}
		}
		defer func() { net.replicas <- r }()
	}
	in, _ := fusedLayers()
	size := in.C * in.H * in.W
	one := tensor.New(tensor.WithShape(1, in.C, in.H, in.W), tensor.WithBacking(append([]float32(nil), x.Data().([]float32)[(n-1)*size:]...)))
	fresh := newArchNet(t, fusedLayers, tensor.Float32, 1)
	z1, err := fresh.Logits(context.Background(), one)
	if err != nil {
		t.Fatal(err)
	}
	last := z.Data().([]float32)[(n-1)*fresh.classes:]
	for j, v := range z1.Data().([]float32) {
		if d := math.Abs(float64(v - last[j])); d > 1e-5 {
			t.Errorf("logit %d of the last row: %v in the large batch, %v alone", j, last[j], v)
		}
	}
}
