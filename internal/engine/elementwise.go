package engine

import (
	"fmt"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// reluOp is max(x, 0) for a ReLU that follows no convolution or dense
// layer (those fuse it). Its backward passes the gradient where y > 0.
type reluOp[T float] struct {
	opBase
	shape tensor.Shape
	y     *tensor.Dense
}

func newReluOp[T float](shape tensor.Shape) *reluOp[T] {
	op := &reluOp[T]{shape: shape.Clone()}
	op.opBase = newBase(op, "ReLU")
	return op
}

func (op *reluOp[T]) Arity() int    { return 1 }
func (op *reluOp[T]) Type() hm.Type { return fnType(len(op.shape), len(op.shape)) }
func (op *reluOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *reluOp[T]) Do(vs ...G.Value) (G.Value, error) {
	x, err := dataOfN[T](vs[0], op.shape.TotalSize())
	if err != nil {
		return nil, err
	}
	yt := held[T](&op.y, op.shape...)
	y := data[T](yt)
	for i, v := range x {
		y[i] = max(v, 0)
	}
	return yt, nil
}
func (op *reluOp[T]) DiffWRT(int) []bool { return []bool{true} }
func (op *reluOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newGateOp[T]("ReLUGrad", op.shape, true), output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// gateOp multiplies its second input by a gate taken from its first: the
// indicator g > 0 (the backward of a ReLU, g its output) or g itself (a
// dropout mask, forward and backward).
type gateOp[T float] struct {
	opBase
	shape     tensor.Shape
	indicator bool
	out       *tensor.Dense
}

func newGateOp[T float](kind string, shape tensor.Shape, indicator bool) *gateOp[T] {
	op := &gateOp[T]{shape: shape.Clone(), indicator: indicator}
	op.opBase = newBase(op, kind)
	return op
}

func (op *gateOp[T]) Arity() int { return 2 }
func (op *gateOp[T]) Type() hm.Type {
	return fnType(len(op.shape), len(op.shape), len(op.shape))
}
func (op *gateOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *gateOp[T]) Do(vs ...G.Value) (G.Value, error) {
	size := op.shape.TotalSize()
	g, err := dataOfN[T](vs[0], size)
	if err != nil {
		return nil, err
	}
	x, err := dataOfN[T](vs[1], size)
	if err != nil {
		return nil, err
	}
	ot := held[T](&op.out, op.shape...)
	o := data[T](ot)
	if op.indicator {
		reluGate(o, x, g)
		return ot, nil
	}
	for i, v := range x {
		o[i] = v * g[i]
	}
	return ot, nil
}

// dropoutOp multiplies x by a mask input (0 or 1/(1-p)), the mask first so
// that the forward and backward are the same gateOp. The mask is not
// differentiated.
type dropoutOp[T float] struct{ gateOp[T] }

func newDropoutOp[T float](shape tensor.Shape) *dropoutOp[T] {
	op := &dropoutOp[T]{gateOp[T]{shape: shape.Clone()}}
	op.opBase = newBase(op, "Dropout")
	return op
}

func (op *dropoutOp[T]) DiffWRT(int) []bool { return []bool{false, true} }
func (op *dropoutOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newGateOp[T]("DropoutGrad", op.shape, false), inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, d}, nil
}

// reshapeOp gives its input another shape without copying: its output
// shares the input's backing array (inputs are op-held buffers, so the
// view is made once). Its backward is the reverse reshape.
type reshapeOp[T float] struct {
	opBase
	from, to tensor.Shape
	view     *tensor.Dense
	backing  *T
}

func newReshapeOp[T float](from, to tensor.Shape) *reshapeOp[T] {
	op := &reshapeOp[T]{from: from.Clone(), to: to.Clone()}
	op.opBase = newBase(op, fmt.Sprintf("Reshape(%v->%v)", from, to))
	return op
}

func (op *reshapeOp[T]) Arity() int    { return 1 }
func (op *reshapeOp[T]) Type() hm.Type { return fnType(len(op.to), len(op.from)) }
func (op *reshapeOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.to.Clone(), nil
}
func (op *reshapeOp[T]) Do(vs ...G.Value) (G.Value, error) {
	x, err := dataOfN[T](vs[0], op.from.TotalSize())
	if err != nil {
		return nil, err
	}
	if p := unsafe.SliceData(x); op.view == nil || op.backing != p {
		op.view = tensor.New(tensor.WithShape(op.to...), tensor.WithBacking(x))
		op.backing = p
	}
	return op.view, nil
}
func (op *reshapeOp[T]) DiffWRT(int) []bool { return []bool{true} }
func (op *reshapeOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newReshapeOp[T](op.to, op.from), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
