package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// affineOp computes x[n, c, h, w]*scale[c] + shift[c] with constant scale
// and shift: input normalisation, (x - mean) / std, as an op whose gradient
// is exact in every mode (Gorgonia's BatchNorm is not).
type affineOp[T float] struct {
	opBase
	shape        tensor.Shape
	scale, shift []float64
	backward     bool // backward applies only the scale
	out          *tensor.Dense
}

func newAffineOp[T float](shape tensor.Shape, scale, shift []float64, backward bool) *affineOp[T] {
	op := &affineOp[T]{shape: shape.Clone(), scale: scale, shift: shift, backward: backward}
	op.opBase = newBase(op, fmt.Sprintf("Affine(%v, %v, backward=%v)", scale, shift, backward))
	return op
}

func (op *affineOp[T]) Arity() int    { return 1 }
func (op *affineOp[T]) Type() hm.Type { return fnType(4, 4) }
func (op *affineOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *affineOp[T]) Do(vs ...G.Value) (G.Value, error) {
	x, err := dataOfN[T](vs[0], op.shape.TotalSize())
	if err != nil {
		return nil, err
	}
	c, inner := op.shape[1], op.shape[2]*op.shape[3]
	ot := held[T](&op.out, op.shape...)
	o := data[T](ot)
	for i, v := range x {
		ch := (i / inner) % c
		r := float64(v) * op.scale[ch]
		if !op.backward {
			r += op.shift[ch]
		}
		o[i] = T(r)
	}
	return ot, nil
}
func (op *affineOp[T]) DiffWRT(int) []bool { return []bool{true} }
func (op *affineOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(newAffineOp[T](op.shape, op.scale, nil, true), grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
