package engine

import (
	"fmt"
	"runtime/debug"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// purpose is what a program computes.
type purpose int

const (
	forward   purpose = iota + 1 // logits
	inputGrad                    // logits, per-example loss, d(sum loss)/dx
	training                     // per-example loss, d(sum loss)/d(every parameter)
)

type progKey struct {
	p purpose
	n int
}

// program is one compiled graph. It is not safe for concurrent use.
type program struct {
	key     progKey
	vm      G.VM
	x       *G.Node
	xval    *tensor.Dense   // owned input buffer: callers' tensors never enter the graph
	wvals   []*tensor.Dense // owned weight copies, program layout
	masks   []*G.Node       // dropout masks, training only
	maskP   []float64
	logits  *G.Node
	loss    *lossOp
	lossOut *G.Node
	xgrad   *G.Node
	pgrads  []*G.Node
	version uint64 // master version the weights were copied from; 0 = never
}

// buildMu serialises graph construction: Gorgonia keeps package-level
// counters while it builds graphs (internal/encoding.NewGroup), which race
// when two graphs are built at once. Running compiled graphs needs no lock.
var buildMu sync.Mutex

// build compiles a program for key. Gorgonia reports some failures by
// panicking; they come back as errors.
func (net *Net) build(key progKey) (prog *program, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("engine: building %v program for batch %d: gorgonia panic: %v\n%s", key.p, key.n, r, debug.Stack())
		}
	}()
	g := G.NewGraph()
	dt := net.dt
	n := key.n
	in := net.in
	p := &program{key: key}
	p.xval = tensor.New(tensor.Of(dt), tensor.WithShape(n, in.C, in.H, in.W))
	p.x = G.NewTensor(g, dt, 4, G.WithShape(n, in.C, in.H, in.W), G.WithName("x"), G.WithValue(p.xval))

	weights := make([]*G.Node, len(net.params))
	for i, pi := range net.params {
		shape := append([]int(nil), pi.Shape...)
		if len(shape) == 2 { // dense weights are in x out inside the graph
			shape[0], shape[1] = shape[1], shape[0]
		}
		v := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		p.wvals = append(p.wvals, v)
		weights[i] = G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(pi.Name), G.WithValue(v))
	}

	h := p.x
	pi := 0
	for i, l := range net.layers {
		switch l.Kind {
		case Normalize:
			scale := make([]float64, len(l.Mean))
			shift := make([]float64, len(l.Mean))
			for c := range scale {
				scale[c] = 1 / l.Std[c]
				shift[c] = -l.Mean[c] / l.Std[c]
			}
			h, err = G.ApplyOp(&affineOp{scale: scale, shift: shift}, h)
		case Conv2D:
			h, err = G.Conv2d(h, weights[pi], tensor.Shape{l.Kernel, l.Kernel}, []int{l.Pad, l.Pad}, []int{l.Stride, l.Stride}, []int{1, 1})
			if err == nil {
				h, err = G.ApplyOp(biasOp{dims: 4}, h, weights[pi+1])
			}
			pi += 2
		case Dense:
			h, err = G.Mul(h, weights[pi])
			if err == nil {
				h, err = G.ApplyOp(biasOp{dims: 2}, h, weights[pi+1])
			}
			pi += 2
		case ReLU:
			h, err = G.Rectify(h)
		case MaxPool2D:
			h, err = G.MaxPool2D(h, tensor.Shape{l.Kernel, l.Kernel}, []int{0, 0}, []int{l.Stride, l.Stride})
		case AvgPool2D:
			h, err = G.ApplyOp(&avgPoolOp{k: l.Kernel, s: l.Stride}, h)
		case Flatten:
			if s := net.shapes[i]; h.Shape().Dims() != 2 {
				h, err = G.Reshape(h, tensor.Shape{n, s.C})
			}
		case Dropout:
			if key.p == training && l.P > 0 {
				m := G.NewTensor(g, dt, h.Shape().Dims(), G.WithShape(h.Shape().Clone()...), G.WithName(fmt.Sprintf("%d.mask", i)),
					G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(h.Shape().Clone()...))))
				p.masks = append(p.masks, m)
				p.maskP = append(p.maskP, l.P)
				h, err = G.HadamardProd(h, m)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("engine: layer %d (%v): %w", i, l.Kind, err)
		}
	}
	p.logits = h

	if key.p != forward {
		p.loss = &lossOp{n: n, k: net.classes}
		if p.lossOut, err = G.ApplyOp(p.loss, h); err != nil {
			return nil, fmt.Errorf("engine: loss: %w", err)
		}
		cost, err := G.Sum(p.lossOut)
		if err != nil {
			return nil, fmt.Errorf("engine: cost: %w", err)
		}
		wrt := G.Nodes{p.x}
		if key.p == training {
			wrt = weights
		}
		grads, err := G.Grad(cost, wrt...)
		if err != nil || len(grads) != len(wrt) {
			return nil, fmt.Errorf("engine: gradient of %v program: %v (got %d gradients for %d nodes)", key.p, err, len(grads), len(wrt))
		}
		if key.p == training {
			p.pgrads = grads
		} else {
			p.xgrad = grads[0]
		}
	}
	p.vm = G.NewTapeMachine(g)
	return p, nil
}

func (p purpose) String() string {
	switch p {
	case forward:
		return "forward"
	case inputGrad:
		return "input-gradient"
	case training:
		return "training"
	}
	return "unknown"
}

// run executes the program once and always resets the machine, so outputs
// must be copied out inside collect.
func (p *program) run(collect func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: %v program for batch %d: gorgonia panic: %v", p.key.p, p.key.n, r)
		}
		p.vm.Reset()
	}()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("engine: %v program for batch %d: %w", p.key.p, p.key.n, err)
	}
	return collect()
}

// sync copies the master weights into the program's own copies when they
// changed since the last run. The caller holds the Net's read lock.
func (net *Net) sync(p *program) {
	if p.version == net.version {
		return
	}
	for i, m := range net.master {
		dst := p.wvals[i]
		if len(net.params[i].Shape) == 2 {
			transposeInto(dst, m, net.params[i].Shape[0], net.params[i].Shape[1])
			continue
		}
		copyData(dst, m)
	}
	p.version = net.version
}

// transposeInto writes the rows x cols matrix src into dst as cols x rows.
func transposeInto(dst, src *tensor.Dense, rows, cols int) {
	switch s := src.Data().(type) {
	case []float32:
		d := dst.Data().([]float32)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				d[c*rows+r] = s[r*cols+c]
			}
		}
	case []float64:
		d := dst.Data().([]float64)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				d[c*rows+r] = s[r*cols+c]
			}
		}
	}
}

func copyData(dst, src *tensor.Dense) {
	switch s := src.Data().(type) {
	case []float32:
		copy(dst.Data().([]float32), s)
	case []float64:
		copy(dst.Data().([]float64), s)
	}
}
