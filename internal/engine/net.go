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

// MaxChunkRows bounds the rows of one Logits or LossGrad program: a larger
// batch runs as several chunks of at most this many rows, in waves over the
// replicas. A program's buffers grow with its rows (for the reference CNN's
// forward and backward, by their sizes, about 0.2 MB a row), so without a
// bound one call on the 10,000 MNIST test images would build two 5,000-row
// programs of about 1 GB each, and keep them cached.
const MaxChunkRows = 128

// chunks splits n rows over the replicas, in chunks of at most MaxChunkRows.
func (net *Net) chunks(n int) [][2]int {
	return Split(n, max(net.workers, (n+MaxChunkRows-1)/MaxChunkRows))
}

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
	// takeMu makes taking several replicas at once atomic, so that two
	// callers that each hold some replicas never wait for each other.
	takeMu sync.Mutex

	// builtin builds programs from Gorgonia's own ops instead of the
	// engine's kernels: the reference the tests compare against. Set it
	// before the first run.
	builtin bool
}

// replica is one worker's set of compiled programs.
type replica struct {
	progs map[progKey]*program
	order []progKey // least recently used first
	pad   pad       // scratch buffers shared by progs
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
	p, err := net.build(key, &r.pad)
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
	ranges := net.chunks(n)
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
	ranges := net.chunks(n)
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
