package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// maxPoolOp takes the maximum of k x k windows at stride s without
// padding. It remembers where each maximum came from (the first one on
// ties, as PyTorch does) for its backward op.
type maxPoolOp[T float] struct {
	opBase
	in, out tensor.Shape
	k, s    int
	arg     *[]int // arg[o] is the input index of output o's maximum (see pad)
	run     uint64
	y       *tensor.Dense
}

func newMaxPoolOp[T float](in tensor.Shape, k, s int, p *pad, layer int) *maxPoolOp[T] {
	op := &maxPoolOp[T]{in: in.Clone(), k: k, s: s, arg: slot[int](p, layer, "arg"),
		out: tensor.Shape{in[0], in[1], (in[2]-k)/s + 1, (in[3]-k)/s + 1}}
	op.opBase = newBase(op, fmt.Sprintf("MaxPool(k=%d, s=%d)", k, s))
	return op
}

func (op *maxPoolOp[T]) Arity() int    { return 1 }
func (op *maxPoolOp[T]) Type() hm.Type { return fnType(4, 4) }
func (op *maxPoolOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.out.Clone(), nil
}
func (op *maxPoolOp[T]) Do(vs ...G.Value) (G.Value, error) {
	x, err := dataOfN[T](vs[0], op.in.TotalSize())
	if err != nil {
		return nil, err
	}
	yt := held[T](&op.y, op.out...)
	y := data[T](yt)
	arg := scratch(op.arg, len(y))
	h, w, oh, ow := op.in[2], op.in[3], op.out[2], op.out[3]
	for p := 0; p < op.in[0]*op.in[1]; p++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				best := p*h*w + oy*op.s*w + ox*op.s
				for dy := 0; dy < op.k; dy++ {
					row := p*h*w + (oy*op.s+dy)*w + ox*op.s
					for dx := 0; dx < op.k; dx++ {
						if x[row+dx] > x[best] {
							best = row + dx
						}
					}
				}
				o := (p*oh+oy)*ow + ox
				y[o], arg[o] = x[best], best
			}
		}
	}
	op.run++
	return yt, nil
}
func (op *maxPoolOp[T]) DiffWRT(int) []bool { return []bool{true} }
func (op *maxPoolOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	b := &maxPoolGradOp[T]{fwd: op}
	b.opBase = newBase(b, "MaxPoolGrad")
	d, err := G.ApplyOp(b, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// maxPoolGradOp routes each output gradient to its window's maximum. It
// takes x as a child only to keep the forward's run before it.
type maxPoolGradOp[T float] struct {
	opBase
	fwd *maxPoolOp[T]
	dx  *tensor.Dense
}

func (op *maxPoolGradOp[T]) Arity() int    { return 2 }
func (op *maxPoolGradOp[T]) Type() hm.Type { return fnType(4, 4, 4) }
func (op *maxPoolGradOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.in.Clone(), nil
}
func (op *maxPoolGradOp[T]) Do(vs ...G.Value) (G.Value, error) {
	dy, err := dataOfN[T](vs[1], op.fwd.out.TotalSize())
	if err != nil {
		return nil, err
	}
	dt := held[T](&op.dx, op.fwd.in...)
	dx := data[T](dt)
	clear(dx)
	for o, i := range *op.fwd.arg {
		dx[i] += dy[o]
	}
	return dt, nil
}
