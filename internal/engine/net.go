package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"gorgonia.org/tensor"
)

// maxPrograms bounds each replica's program cache: callers that use many
// batch sizes must not grow memory without limit.
const maxPrograms = 8

// Net is a network with one master copy of its weights. Its methods are safe
// for concurrent use.
type Net struct {
	in      Shape
	layers  []Layer
	shapes  []Shape
	params  []ParamInfo
	classes int
	dt      tensor.Dtype
	workers int

	mu       sync.RWMutex // guards master and version
	master   []*tensor.Dense
	version  uint64
	replicas chan *replica
}

// replica is one worker's set of compiled programs.
type replica struct {
	progs map[progKey]*program
	order []progKey // least recently used first
}

// New returns a network with zero weights; set them with Update. dt is
// tensor.Float32 or tensor.Float64. workers >= 1 is the number of replicas a
// batch is split across.
func New(in Shape, layers []Layer, dt tensor.Dtype, workers int) (*Net, error) {
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("engine: dtype %v, want float32 or float64", dt)
	}
	if workers < 1 {
		return nil, fmt.Errorf("engine: workers %d, want >= 1", workers)
	}
	if in.Flat || in.C < 1 || in.H < 1 || in.W < 1 {
		return nil, fmt.Errorf("engine: input shape %+v, want C x H x W", in)
	}
	shapes, params, err := Infer(in, layers)
	if err != nil {
		return nil, err
	}
	net := &Net{
		in: in, layers: append([]Layer(nil), layers...), shapes: shapes, params: params,
		classes: shapes[len(shapes)-1].C, dt: dt, workers: workers,
		version:  1,
		replicas: make(chan *replica, workers),
	}
	for _, p := range params {
		net.master = append(net.master, tensor.New(tensor.Of(dt), tensor.WithShape(p.Shape...)))
	}
	for i := 0; i < workers; i++ {
		net.replicas <- &replica{progs: map[progKey]*program{}}
	}
	return net, nil
}

// Params describes the parameters in order.
func (net *Net) Params() []ParamInfo { return net.params }

// Classes is the number of logits.
func (net *Net) Classes() int { return net.classes }

// Dtype is the element type of every tensor the network takes and returns.
func (net *Net) Dtype() tensor.Dtype { return net.dt }

// Workers is the number of replicas.
func (net *Net) Workers() int { return net.workers }

// Read calls fn with the master weights under a read lock. fn must not
// modify them or keep them after it returns.
func (net *Net) Read(fn func(master []*tensor.Dense)) {
	net.mu.RLock()
	defer net.mu.RUnlock()
	fn(net.master)
}

// Update calls fn with the master weights under the write lock; every
// program sees the new weights on its next run.
func (net *Net) Update(fn func(master []*tensor.Dense) error) error {
	net.mu.Lock()
	defer net.mu.Unlock()
	net.version++ // even on error: fn may have written part of the weights
	return fn(net.master)
}

// program returns r's program for key, building it on first use.
func (net *Net) program(r *replica, key progKey) (*program, error) {
	if p, ok := r.progs[key]; ok {
		for i, k := range r.order {
			if k == key {
				r.order = append(append(r.order[:i:i], r.order[i+1:]...), key)
				break
			}
		}
		return p, nil
	}
	p, err := net.build(key)
	if err != nil {
		return nil, err
	}
	if len(r.order) >= maxPrograms {
		delete(r.progs, r.order[0])
		r.order = r.order[1:]
	}
	r.progs[key] = p
	r.order = append(r.order, key)
	return p, nil
}

// Split divides n rows into at most parts contiguous ranges of nearly equal
// size, larger ones first.
func Split(n, parts int) [][2]int {
	if parts > n {
		parts = n
	}
	out := make([][2]int, 0, parts)
	a := 0
	for i := 0; i < parts; i++ {
		size := n / parts
		if i < n%parts {
			size++
		}
		out = append(out, [2]int{a, a + size})
		a += size
	}
	return out
}

// parallel runs fn for every range on a replica of its own. The caller
// holds the read lock.
func (net *Net) parallel(ctx context.Context, ranges [][2]int, fn func(r *replica, chunk int) error) error {
	run := func(chunk int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := <-net.replicas
		defer func() { net.replicas <- r }()
		return fn(r, chunk)
	}
	if len(ranges) == 1 {
		return run(0)
	}
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for i := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkInput verifies that x is an N x C x H x W tensor of the net's dtype.
func (net *Net) checkInput(x *tensor.Dense) (int, error) {
	if x == nil {
		return 0, fmt.Errorf("engine: nil input")
	}
	s := x.Shape()
	if len(s) != 4 || s[0] < 1 || s[1] != net.in.C || s[2] != net.in.H || s[3] != net.in.W {
		return 0, fmt.Errorf("engine: input shape %v, want N x %d x %d x %d", s, net.in.C, net.in.H, net.in.W)
	}
	if x.Dtype() != net.dt {
		return 0, fmt.Errorf("engine: input dtype %v, want %v", x.Dtype(), net.dt)
	}
	return s[0], nil
}

// copyRows copies rows [a, b) of src, whose rows hold size values, into dst.
func copyRows(dst, src *tensor.Dense, a, b, size int) {
	switch s := src.Data().(type) {
	case []float32:
		copy(dst.Data().([]float32), s[a*size:b*size])
	case []float64:
		copy(dst.Data().([]float64), s[a*size:b*size])
	}
}

// pasteRows copies all of src into rows [a, b) of dst.
func pasteRows(dst, src *tensor.Dense, a, b, size int) {
	switch d := dst.Data().(type) {
	case []float32:
		copy(d[a*size:b*size], src.Data().([]float32))
	case []float64:
		copy(d[a*size:b*size], src.Data().([]float64))
	}
}

func (net *Net) nodeTensor(v any) (*tensor.Dense, error) {
	t, ok := v.(*tensor.Dense)
	if !ok || t == nil || t.Dtype() != net.dt {
		return nil, fmt.Errorf("engine: unexpected node value %T", v)
	}
	return t, nil
}

// Logits returns the N x K logits of x.
func (net *Net) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, err := net.checkInput(x)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(net.dt), tensor.WithShape(n, net.classes))
	ranges := Split(n, net.workers)
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	err = net.parallel(ctx, ranges, func(r *replica, chunk int) error {
		a, b := ranges[chunk][0], ranges[chunk][1]
		p, err := net.program(r, progKey{forward, b - a})
		if err != nil {
			return err
		}
		net.sync(p)
		copyRows(p.xval, x, a, b, size)
		return p.run(func() error {
			z, err := net.nodeTensor(p.logits.Value())
			if err != nil {
				return err
			}
			pasteRows(out, z, a, b, net.classes)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LossGrad returns the per-example loss fn assigns to the logits of x and
// the gradient of the summed loss with respect to x. fn is called once per
// chunk with the chunk's first row.
func (net *Net) LossGrad(ctx context.Context, x *tensor.Dense, fn func(row0 int, logits []float64, n, k int, loss, grad []float64) error) ([]float64, *tensor.Dense, error) {
	n, err := net.checkInput(x)
	if err != nil {
		return nil, nil, err
	}
	loss := make([]float64, n)
	grad := tensor.New(tensor.Of(net.dt), tensor.WithShape(x.Shape().Clone()...))
	ranges := Split(n, net.workers)
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	err = net.parallel(ctx, ranges, func(r *replica, chunk int) error {
		a, b := ranges[chunk][0], ranges[chunk][1]
		p, err := net.program(r, progKey{inputGrad, b - a})
		if err != nil {
			return err
		}
		net.sync(p)
		copyRows(p.xval, x, a, b, size)
		p.loss.fn = func(logits []float64, n, k int, l, g []float64) error { return fn(a, logits, n, k, l, g) }
		return p.run(func() error {
			if err := lossValues(p.lossOut.Value(), loss[a:b]); err != nil {
				return err
			}
			gx, err := net.nodeTensor(p.xgrad.Value())
			if err != nil {
				return err
			}
			pasteRows(grad, gx, a, b, size)
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return loss, grad, nil
}

func lossValues(v any, dst []float64) error {
	t, ok := v.(*tensor.Dense)
	if !ok || t == nil {
		return fmt.Errorf("engine: unexpected loss value %T", v)
	}
	switch d := t.Data().(type) {
	case []float32:
		for i, x := range d {
			dst[i] = float64(x)
		}
	case []float64:
		copy(dst, d)
	default:
		return fmt.Errorf("engine: unexpected loss dtype %v", t.Dtype())
	}
	return nil
}

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
	losses := make([]float64, len(chunks))
	grads := make([][]*tensor.Dense, len(chunks))
	ranges := make([][2]int, len(chunks))
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	err := net.parallel(ctx, ranges, func(r *replica, chunk int) error {
		c := chunks[chunk]
		n := c.X.Shape()[0]
		p, err := net.program(r, progKey{training, n})
		if err != nil {
			return err
		}
		net.sync(p)
		copyRows(p.xval, c.X, 0, n, size)
		p.loss.fn = c.Loss
		rng := rand.New(rand.NewPCG(seed, uint64(chunk)))
		for i, m := range p.masks {
			fillMask(m.Value().(*tensor.Dense), p.maskP[i], rng)
		}
		return p.run(func() error {
			l := make([]float64, n)
			if err := lossValues(p.lossOut.Value(), l); err != nil {
				return err
			}
			for _, v := range l {
				losses[chunk] += v
			}
			for i, gn := range p.pgrads {
				g, err := net.nodeTensor(gn.Value())
				if err != nil {
					return err
				}
				out := tensor.New(tensor.Of(net.dt), tensor.WithShape(net.params[i].Shape...))
				if s := net.params[i].Shape; len(s) == 2 {
					transposeInto(out, g, s[1], s[0])
				} else {
					copyData(out, g)
				}
				grads[chunk] = append(grads[chunk], out)
			}
			return nil
		})
	})
	if err != nil {
		return 0, nil, err
	}
	total := losses[0]
	sum := grads[0]
	for c := 1; c < len(chunks); c++ {
		total += losses[c]
		for i := range sum {
			addInto(sum[i], grads[c][i])
		}
	}
	return total, sum, nil
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
