package engine

import (
	"context"
	"errors"
	"fmt"
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
