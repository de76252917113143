package engine

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// avgPoolOp averages k x k windows at stride s without padding. Gorgonia's
// AveragePool2D has a wrong gradient whenever the stride is above 1
// (measured against finite differences), so pooling is ours.
type avgPoolOp struct {
	k, s     int
	backward bool // backward spreads an upstream gradient over the windows
	inShape  tensor.Shape
}

func (op *avgPoolOp) outShape(in tensor.Shape) tensor.Shape {
	return tensor.Shape{in[0], in[1], (in[2]-op.k)/op.s + 1, (in[3]-op.k)/op.s + 1}
}

func (op *avgPoolOp) Arity() int    { return 1 }
func (op *avgPoolOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(4)) }
func (op *avgPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.backward {
		return op.inShape.Clone(), nil
	}
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("engine: avgpool expects a shape")
	}
	return op.outShape(s), nil
}

func (op *avgPoolOp) Do(vs ...G.Value) (G.Value, error) {
	v := vs[0].(tensor.Tensor)
	inShape := v.Shape()
	if op.backward {
		inShape = op.inShape
	}
	outShape := op.outShape(inShape)
	shape := outShape
	if op.backward {
		shape = inShape
	}
	out := tensor.New(tensor.Of(v.Dtype()), tensor.WithShape(shape.Clone()...))
	f32, f64, err := floats(v)
	if err != nil {
		return nil, err
	}
	if f32 != nil {
		poolLoop(op, inShape, outShape, f32, out.Data().([]float32))
	} else {
		poolLoop(op, inShape, outShape, f64, out.Data().([]float64))
	}
	return out, nil
}

// poolLoop computes the forward average, or, for the backward op, adds each
// output gradient divided by k*k to every input of its window.
func poolLoop[T float32 | float64](op *avgPoolOp, in, out tensor.Shape, src, dst []T) {
	planes, h, w, oh, ow := in[0]*in[1], in[2], in[3], out[2], out[3]
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

func (op *avgPoolOp) ReturnsPtr() bool      { return false }
func (op *avgPoolOp) CallsExtern() bool     { return false }
func (op *avgPoolOp) OverwritesInput() int  { return -1 }
func (op *avgPoolOp) WriteHash(h hash.Hash) { _, _ = h.Write([]byte(op.String())) }
func (op *avgPoolOp) Hashcode() uint32      { return hashOf(op) }
func (op *avgPoolOp) String() string {
	return fmt.Sprintf("AvgPool(k=%d, s=%d, backward=%v, in=%v)", op.k, op.s, op.backward, op.inShape)
}
func (op *avgPoolOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *avgPoolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&avgPoolOp{k: op.k, s: op.s, backward: true, inShape: inputs[0].Shape().Clone()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
