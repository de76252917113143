// Training: one step's loss and parameter gradients over chunks run in
// parallel on replicas of their own, with dropout masks drawn per chunk.

package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"gorgonia.org/tensor"
)

// TrainChunk is one part of a training batch, run on a replica of its own.
type TrainChunk struct {
	X *tensor.Dense
	// Loss assigns each row its share of the batch loss, so that the sum
	// over every chunk is the batch loss.
	Loss LossFunc
}

// Train runs the chunks in parallel and returns the batch loss (the sum of
// every row's loss) and its gradient with respect to every parameter, in
// master layout, summed over chunks in chunk order. Dropout masks are drawn
// from seed and the chunk index.
func (net *Net) Train(ctx context.Context, chunks []TrainChunk, seed uint64) (float64, []*tensor.Dense, error) {
	if len(chunks) == 0 {
		return 0, nil, fmt.Errorf("engine: no training chunks")
	}
	for _, c := range chunks {
		if _, err := net.checkInput(c.X); err != nil {
			return 0, nil, err
		}
		if c.Loss == nil {
			return 0, nil, fmt.Errorf("engine: training chunk without a loss")
		}
	}
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	var total float64
	sum := make([]*tensor.Dense, len(net.params))
	for i, pi := range net.params {
		sum[i] = tensor.New(tensor.Of(net.dt), tensor.WithShape(pi.Shape...))
	}
	// Chunks run in waves of at most one per replica. A wave keeps its
	// replicas until their gradients are summed, in chunk order, straight
	// from the programs' buffers: no per-chunk copies, and the sum does not
	// depend on which chunk finished first.
	for start := 0; start < len(chunks); start += net.workers {
		wave := chunks[start:min(start+net.workers, len(chunks))]
		reps := net.take(len(wave))
		progs := make([]*program, len(wave))
		losses := make([]float64, len(wave))
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for w := range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				progs[w], losses[w], errs[w] = net.trainChunk(ctx, reps[w], wave[w], uint64(start+w), seed, size)
			}()
		}
		wg.Wait()
		err := errors.Join(errs...)
		if err == nil {
			for w, p := range progs {
				total += losses[w]
				if err = net.addGrads(sum, p, start+w == 0); err != nil {
					break
				}
			}
		}
		for w, p := range progs {
			if p != nil {
				p.vm.Reset()
			}
			net.replicas <- reps[w]
		}
		if err != nil {
			return 0, nil, err
		}
	}
	return total, sum, nil
}

// take takes n replicas at once.
func (net *Net) take(n int) []*replica {
	net.takeMu.Lock()
	defer net.takeMu.Unlock()
	out := make([]*replica, n)
	for i := range out {
		out[i] = <-net.replicas
	}
	return out
}

// trainChunk runs one chunk on r and returns its program, not yet reset:
// the caller reads the gradients and resets it.
func (net *Net) trainChunk(ctx context.Context, r *replica, c TrainChunk, chunk, seed uint64, size int) (*program, float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	n := c.X.Shape()[0]
	p, err := net.program(r, progKey{training, n})
	if err != nil {
		return nil, 0, err
	}
	net.sync(p)
	copyRows(p.xval, c.X, 0, n, size)
	p.loss.fn = c.Loss
	rng := rand.New(rand.NewPCG(seed, chunk))
	for i, m := range p.masks {
		fillMask(m.Value().(*tensor.Dense), p.maskP[i], rng)
	}
	if err := p.runKeep(); err != nil {
		return nil, 0, err
	}
	var loss float64
	switch d := p.lossOut.Value().Data().(type) {
	case []float32:
		for _, v := range d {
			loss += float64(v)
		}
	case []float64:
		for _, v := range d {
			loss += v
		}
	}
	return p, loss, nil
}

// addGrads adds p's parameter gradients to sum, in master layout; first
// copies instead.
func (net *Net) addGrads(sum []*tensor.Dense, p *program, first bool) error {
	for i, gn := range p.pgrads {
		g, err := net.nodeTensor(gn.Value())
		if err != nil {
			return err
		}
		if s := net.params[i].Shape; len(s) == 2 && p.builtin {
			if first {
				transposeInto(sum[i], g, s[1], s[0])
				continue
			}
			t := tensor.New(tensor.Of(net.dt), tensor.WithShape(s...))
			transposeInto(t, g, s[1], s[0])
			g = t
		}
		if first {
			copyData(sum[i], g)
		} else {
			addInto(sum[i], g)
		}
	}
	return nil
}

// fillMask draws an inverted-dropout mask: 0 with probability p, else
// 1/(1-p), so activations keep their expectation.
func fillMask(m *tensor.Dense, p float64, rng *rand.Rand) {
	keep := 1 / (1 - p)
	switch d := m.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = 0
			if rng.Float64() >= p {
				d[i] = float32(keep)
			}
		}
	case []float64:
		for i := range d {
			d[i] = 0
			if rng.Float64() >= p {
				d[i] = keep
			}
		}
	}
}

func addInto(dst, src *tensor.Dense) {
	switch d := dst.Data().(type) {
	case []float32:
		for i, v := range src.Data().([]float32) {
			d[i] += v
		}
	case []float64:
		for i, v := range src.Data().([]float64) {
			d[i] += v
		}
	}
}
