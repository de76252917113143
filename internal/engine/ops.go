package engine

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Custom Gorgonia ops. Each implements the full G.Op interface; forward ops
// also implement G.SDOp so that G.Grad differentiates through them. Type()
// builds a fresh hm type on every call because hm recycles the ones it is
// given.

func tensorType(dims int) G.TensorType {
	return G.TensorType{Dims: dims, Of: hm.TypeVariable('a')}
}

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s.String()))
	return h.Sum32()
}

// floats returns the backing slice of a float32 or float64 tensor.
func floats(v G.Value) (f32 []float32, f64 []float64, err error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("engine: expected a tensor, got %T", v)
	}
	switch d := t.Data().(type) {
	case []float32:
		return d, nil, nil
	case []float64:
		return nil, d, nil
	}
	return nil, nil, fmt.Errorf("engine: unsupported dtype %v", t.Dtype())
}

// biasOp adds b[c] to every x[n, c, ...]: the bias of dense (N x C) and
// convolution (N x C x H x W) layers.
type biasOp struct{ dims int }

func (op biasOp) Arity() int { return 2 }
func (op biasOp) Type() hm.Type {
	return hm.NewFnType(tensorType(op.dims), tensorType(1), tensorType(op.dims))
}
func (op biasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("engine: bias expects a shape")
	}
	return s.Clone(), nil
}
func (op biasOp) Do(vs ...G.Value) (G.Value, error) {
	x := vs[0].(tensor.Tensor)
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
	s := x.Shape()
	c, inner := s[1], 1
	for _, d := range s[2:] {
		inner *= d
	}
	xf32, xf64, err := floats(x)
	if err != nil {
		return nil, err
	}
	bf32, bf64, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if xf32 != nil {
		o := out.Data().([]float32)
		for i, v := range xf32 {
			o[i] = v + bf32[(i/inner)%c]
		}
	} else {
		o := out.Data().([]float64)
		for i, v := range xf64 {
			o[i] = v + bf64[(i/inner)%c]
		}
	}
	return out, nil
}
func (op biasOp) ReturnsPtr() bool          { return false }
func (op biasOp) CallsExtern() bool         { return false }
func (op biasOp) OverwritesInput() int      { return -1 }
func (op biasOp) WriteHash(h hash.Hash)     { _, _ = h.Write([]byte(op.String())) }
func (op biasOp) Hashcode() uint32          { return hashOf(op) }
func (op biasOp) String() string            { return fmt.Sprintf("Bias%dD", op.dims) }
func (op biasOp) DiffWRT(inputs int) []bool { return []bool{true, true} }
func (op biasOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(biasGradOp{dims: op.dims, c: inputs[1].Shape()[0]}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}

// biasGradOp sums an upstream gradient over every axis but the channel axis.
type biasGradOp struct{ dims, c int }

func (op biasGradOp) Arity() int    { return 1 }
func (op biasGradOp) Type() hm.Type { return hm.NewFnType(tensorType(op.dims), tensorType(1)) }
func (op biasGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.c}, nil
}
func (op biasGradOp) Do(vs ...G.Value) (G.Value, error) {
	g := vs[0].(tensor.Tensor)
	s := g.Shape()
	inner := 1
	for _, d := range s[2:] {
		inner *= d
	}
	out := tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(op.c))
	gf32, gf64, err := floats(g)
	if err != nil {
		return nil, err
	}
	if gf32 != nil {
		o := out.Data().([]float32)
		for i, v := range gf32 {
			o[(i/inner)%op.c] += v
		}
	} else {
		o := out.Data().([]float64)
		for i, v := range gf64 {
			o[(i/inner)%op.c] += v
		}
	}
	return out, nil
}
func (op biasGradOp) ReturnsPtr() bool      { return false }
func (op biasGradOp) CallsExtern() bool     { return false }
func (op biasGradOp) OverwritesInput() int  { return -1 }
func (op biasGradOp) WriteHash(h hash.Hash) { _, _ = h.Write([]byte(op.String())) }
func (op biasGradOp) Hashcode() uint32      { return hashOf(op) }
func (op biasGradOp) String() string        { return fmt.Sprintf("BiasGrad%dD(%d)", op.dims, op.c) }

// LossFunc computes, for n x k logits in row-major order, each row's loss
// and the gradient of each row's loss with respect to that row's logits.
// It may couple rows (TRADES pairs a clean and an adversarial row), in which
// case grad row i holds d(sum of losses)/d(logits row i).
type LossFunc func(logits []float64, n, k int, loss, grad []float64) error

// lossOp applies a LossFunc set before each run. It keeps the gradient the
// forward pass computed for its backward op, so one op instance belongs to
// one program and is not safe for concurrent use, like the program itself.
type lossOp struct {
	n, k int
	fn   LossFunc
	z    *[]float64 // shared with the replica's other programs (see pad)
	loss *[]float64
	grad *[]float64
	out  *tensor.Dense
}

func (op *lossOp) Arity() int    { return 1 }
func (op *lossOp) Type() hm.Type { return hm.NewFnType(tensorType(2), tensorType(1)) }
func (op *lossOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n}, nil
}
func (op *lossOp) Do(vs ...G.Value) (_ G.Value, err error) {
	// Gorgonia runs ops on a goroutine of its own, where a panic would
	// end the process: the loss function is the caller's code.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: loss function panicked: %v", r)
		}
	}()
	if op.fn == nil {
		return nil, fmt.Errorf("engine: no loss function set")
	}
	zf32, zf64, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	z := zf64
	if zf32 != nil {
		z = scratch(op.z, len(zf32))
		for i, v := range zf32 {
			z[i] = float64(v)
		}
	}
	loss := scratch(op.loss, op.n)
	grad := scratch(op.grad, op.n*op.k)
	clear(loss)
	clear(grad)
	if err := op.fn(z, op.n, op.k, loss, grad); err != nil {
		return nil, err
	}
	if op.out == nil {
		op.out = tensor.New(tensor.Of(vs[0].(tensor.Tensor).Dtype()), tensor.WithShape(op.n))
	}
	switch o := op.out.Data().(type) {
	case []float32:
		for i, v := range loss {
			o[i] = float32(v)
		}
	case []float64:
		copy(o, loss)
	}
	return op.out, nil
}
func (op *lossOp) ReturnsPtr() bool          { return false }
func (op *lossOp) CallsExtern() bool         { return false }
func (op *lossOp) OverwritesInput() int      { return -1 }
func (op *lossOp) WriteHash(h hash.Hash)     { _, _ = h.Write([]byte(op.String())) }
func (op *lossOp) Hashcode() uint32          { return hashOf(op) }
func (op *lossOp) String() string            { return fmt.Sprintf("Loss(%dx%d)@%p", op.n, op.k, op) }
func (op *lossOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *lossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&lossGradOp{fwd: op}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// lossGradOp scales each row of the forward op's stored gradient by the
// upstream gradient of that row's loss.
type lossGradOp struct {
	fwd *lossOp
	out *tensor.Dense
}

func (op *lossGradOp) Arity() int    { return 1 }
func (op *lossGradOp) Type() hm.Type { return hm.NewFnType(tensorType(1), tensorType(2)) }
func (op *lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.n, op.fwd.k}, nil
}
func (op *lossGradOp) Do(vs ...G.Value) (G.Value, error) {
	uf32, uf64, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	n, k, g := op.fwd.n, op.fwd.k, *op.fwd.grad
	if op.out == nil {
		op.out = tensor.New(tensor.Of(vs[0].(tensor.Tensor).Dtype()), tensor.WithShape(n, k))
	}
	switch o := op.out.Data().(type) {
	case []float32:
		for i := range o {
			o[i] = float32(g[i] * float64(uf32[i/k]))
		}
	case []float64:
		for i := range o {
			o[i] = g[i] * uf64[i/k]
		}
	}
	return op.out, nil
}
func (op *lossGradOp) ReturnsPtr() bool      { return false }
func (op *lossGradOp) CallsExtern() bool     { return false }
func (op *lossGradOp) OverwritesInput() int  { return -1 }
func (op *lossGradOp) WriteHash(h hash.Hash) { _, _ = h.Write([]byte(op.String())) }
func (op *lossGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *lossGradOp) String() string {
	return fmt.Sprintf("LossGrad(%dx%d)@%p", op.fwd.n, op.fwd.k, op)
}
