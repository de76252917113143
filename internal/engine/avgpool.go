package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// avgPoolOp averages k x k windows at stride s without padding. Gorgonia's
// AveragePool2D has a wrong gradient whenever the stride is above 1
// (measured against finite differences), so pooling is ours.
type avgPoolOp[T float] struct {
	opBase
	k, s     int
	backward bool         // backward spreads an upstream gradient over the windows
	in, out  tensor.Shape // the forward's input and output shapes
	res      *tensor.Dense
}

func newAvgPoolOp[T float](in tensor.Shape, k, s int, backward bool) *avgPoolOp[T] {
	op := &avgPoolOp[T]{k: k, s: s, backward: backward, in: in.Clone(),
		out: tensor.Shape{in[0], in[1], (in[2]-k)/s + 1, (in[3]-k)/s + 1}}
	op.opBase = newBase(op, fmt.Sprintf("AvgPool(k=%d, s=%d, backward=%v)", k, s, backward))
	return op
}

func (op *avgPoolOp[T]) Arity() int    { return 1 }
func (op *avgPoolOp[T]) Type() hm.Type { return fnType(4, 4) }
func (op *avgPoolOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	if op.backward {
		return op.in.Clone(), nil
	}
	return op.out.Clone(), nil
}

func (op *avgPoolOp[T]) Do(vs ...G.Value) (G.Value, error) {
	src := op.in
	if op.backward {
		src = op.out
	}
	v, err := dataOfN[T](vs[0], src.TotalSize())
	if err != nil {
		return nil, err
	}
	dst := op.out
	if op.backward {
		dst = op.in
	}
	rt := held[T](&op.res, dst...)
	r := data[T](rt)
	if op.backward {
		clear(r)
	}
	poolLoop(op, v, r)
	return rt, nil
}

// poolLoop computes the forward average, or, for the backward op, adds each
// output gradient divided by k*k to every input of its window.
func poolLoop[T float](op *avgPoolOp[T], src, dst []T) {
	planes, h, w, oh, ow := op.in[0]*op.in[1], op.in[2], op.in[3], op.out[2], op.out[3]
	norm := T(1) / T(op.k*op.k)
	for p := 0; p < planes; p++ {
		ip := p * h * w
		opl := p * oh * ow
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				o := opl + oy*ow + ox
				if op.backward {
					g := src[o] * norm
					for dy := 0; dy < op.k; dy++ {
						row := ip + (oy*op.s+dy)*w + ox*op.s
						for dx := 0; dx < op.k; dx++ {
							dst[row+dx] += g
						}
					}
					continue
				}
				var sum T
				for dy := 0; dy < op.k; dy++ {
					row := ip + (oy*op.s+dy)*w + ox*op.s
					for dx := 0; dx < op.k; dx++ {
						sum += src[row+dx]
					}
				}
				dst[o] = sum * norm
			}
		}
	}
}

func (op *avgPoolOp[T]) DiffWRT(int) []bool { return []bool{true} }
func (op *avgPoolOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newAvgPoolOp[T](op.in, op.k, op.s, true), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
