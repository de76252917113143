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
	builtin bool   // built from Gorgonia's own ops (dense weights in x out)
}

// buildLayers adds the layers to g with the engine's own ops: convolution
// and dense layers over package gemm with the following ReLU fused, and
// every op holding its output buffers across runs. x needs no gradient in a
// training program, so the first layer with parameters computes none.
func buildLayers[T float](net *Net, g *G.ExprGraph, p *program, weights []*G.Node, sp *pad) (h *G.Node, err error) {
	key, n := p.key, p.key.n
	h = p.x
	pi := 0
	needX := key.p == inputGrad // a gradient with respect to h is used
	needW := key.p == training
	nhwc := false // h is stored NHWC (see convGeom)
	for i := 0; i < len(net.layers); i++ {
		l := net.layers[i]
		shape := h.Shape().Clone()
		relu := i+1 < len(net.layers) && net.layers[i+1].Kind == ReLU
		switch l.Kind {
		case Normalize:
			scale := make([]float64, len(l.Mean))
			shift := make([]float64, len(l.Mean))
			for c := range scale {
				scale[c] = 1 / l.Std[c]
				shift[c] = -l.Mean[c] / l.Std[c]
			}
			h, err = G.ApplyOp(newAffineOp[T](shape, scale, shift, false), h)
		case Conv2D:
			cg := newConvGeom(n, shape[1], shape[2], shape[3], l.Out, l.Kernel, l.Stride, l.Pad)
			cg.relu, cg.needX, cg.needW = relu, needX, needW
			// One input channel reads the same in both layouts.
			cg.inNHWC = nhwc && cg.cin > 1
			next := i + 1
			if relu {
				next++
			}
			cg.outNHWC = next < len(net.layers) && net.layers[next].Kind == Conv2D && l.Out > 1
			nhwc = cg.outNHWC
			h, err = G.ApplyOp(newConvOp[T](cg, sp, i), h, weights[pi], weights[pi+1])
		case Dense:
			h, err = G.ApplyOp(newDenseOp[T](n, shape[1], l.Out, relu, needX, needW, &p.version, sp, i), h, weights[pi], weights[pi+1])
		case ReLU:
			h, err = G.ApplyOp(newReluOp[T](shape), h)
		case MaxPool2D:
			h, err = G.ApplyOp(newMaxPoolOp[T](shape, l.Kernel, l.Stride, sp, i), h)
		case AvgPool2D:
			h, err = G.ApplyOp(newAvgPoolOp[T](shape, l.Kernel, l.Stride, false), h)
		case Flatten:
			if len(shape) != 2 {
				h, err = G.ApplyOp(newReshapeOp[T](shape, tensor.Shape{n, shape.TotalSize() / n}), h)
			}
		case Dropout:
			if key.p == training && l.P > 0 {
				m := G.NewTensor(g, net.dt, len(shape), G.WithShape(shape...), G.WithName(fmt.Sprintf("%d.mask", i)),
					G.WithValue(tensor.New(tensor.Of(net.dt), tensor.WithShape(shape...))))
				p.masks = append(p.masks, m)
				p.maskP = append(p.maskP, l.P)
				h, err = G.ApplyOp(newDropoutOp[T](shape), m, h)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("engine: layer %d (%v): %w", i, l.Kind, err)
		}
		if l.Kind == Conv2D || l.Kind == Dense {
			pi += 2
			needX = true
			if relu {
				i++ // fused
			}
		}
	}
	return h, nil
}

// buildMu serialises graph construction: Gorgonia keeps package-level
// counters while it builds graphs (internal/encoding.NewGroup), which race
// when two graphs are built at once. Running compiled graphs needs no lock.
var buildMu sync.Mutex

// build compiles a program for key. Gorgonia reports some failures by
// panicking; they come back as errors.
func (net *Net) build(key progKey, sp *pad) (prog *program, err error) {
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

	p.builtin = net.builtin
	weights := make([]*G.Node, len(net.params))
	for i, pi := range net.params {
		shape := append([]int(nil), pi.Shape...)
		if len(shape) == 2 && p.builtin { // Gorgonia's Mul wants in x out
			shape[0], shape[1] = shape[1], shape[0]
		}
		// The engine's ops never write their inputs, so its programs read
		// the master weights in place (under the Net's read lock); Gorgonia's
		// own Mul transposes operands in place, so the built-in path copies.
		v := net.master[i]
		if p.builtin {
			v = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		}
		p.wvals = append(p.wvals, v)
		weights[i] = G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(pi.Name), G.WithValue(v))
	}

	var h *G.Node
	switch {
	case p.builtin && dt == tensor.Float32:
		h, err = buildBuiltin[float32](net, g, p, weights)
	case p.builtin:
		h, err = buildBuiltin[float64](net, g, p, weights)
	case dt == tensor.Float32:
		h, err = buildLayers[float32](net, g, p, weights, sp)
	default:
		h, err = buildLayers[float64](net, g, p, weights, sp)
	}
	if err != nil {
		return nil, err
	}
	p.logits = h

	if key.p != forward {
		p.loss = &lossOp{n: n, k: net.classes, z: slot[float64](sp, -1, "z"), loss: slot[float64](sp, -1, "loss"), grad: slot[float64](sp, -1, "grad")}
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

// runKeep executes the program once without resetting the machine on
// success, so that the caller can read several outputs; the caller must
// call p.vm.Reset afterwards. On failure the machine is reset.
func (p *program) runKeep() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: %v program for batch %d: gorgonia panic: %v", p.key.p, p.key.n, r)
		}
		if err != nil {
			p.vm.Reset()
		}
	}()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("engine: %v program for batch %d: %w", p.key.p, p.key.n, err)
	}
	return nil
}

// sync copies the master weights into the program's own copies when they
// changed since the last run. The caller holds the Net's read lock.
func (net *Net) sync(p *program) {
	if p.version == net.version {
		return
	}
	if !p.builtin { // the program reads the master weights in place
		p.version = net.version
		return
	}
	for i, m := range net.master {
		dst := p.wvals[i]
		if len(net.params[i].Shape) == 2 && p.builtin {
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
