package engine

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// affineOp computes x[n, c, h, w]*scale[c] + shift[c] with constant scale
// and shift: input normalisation, (x - mean) / std, as an op whose gradient
// is exact in every mode (Gorgonia's BatchNorm is not).
type affineOp struct {
	scale, shift []float64
	backward     bool // backward applies only the scale
}

func (op *affineOp) Arity() int    { return 1 }
func (op *affineOp) Type() hm.Type { return hm.NewFnType(tensorType(4), tensorType(4)) }
func (op *affineOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("engine: affine expects a shape")
	}
	return s.Clone(), nil
}
func (op *affineOp) Do(vs ...G.Value) (G.Value, error) {
	x := vs[0].(tensor.Tensor)
	s := x.Shape()
	c, inner := s[1], s[2]*s[3]
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(s.Clone()...))
	xf32, xf64, err := floats(x)
	if err != nil {
		return nil, err
	}
	if xf32 != nil {
		o := out.Data().([]float32)
		for i, v := range xf32 {
			ch := (i / inner) % c
			r := float64(v) * op.scale[ch]
			if !op.backward {
				r += op.shift[ch]
			}
			o[i] = float32(r)
		}
	} else {
		o := out.Data().([]float64)
		for i, v := range xf64 {
			ch := (i / inner) % c
			r := v * op.scale[ch]
			if !op.backward {
				r += op.shift[ch]
			}
			o[i] = r
		}
	}
	return out, nil
}
func (op *affineOp) ReturnsPtr() bool      { return false }
func (op *affineOp) CallsExtern() bool     { return false }
func (op *affineOp) OverwritesInput() int  { return -1 }
func (op *affineOp) WriteHash(h hash.Hash) { _, _ = h.Write([]byte(op.String())) }
func (op *affineOp) Hashcode() uint32      { return hashOf(op) }
func (op *affineOp) String() string {
	return fmt.Sprintf("Affine(%v, %v, backward=%v)", op.scale, op.shift, op.backward)
}
func (op *affineOp) DiffWRT(inputs int) []bool { return []bool{true} }
func (op *affineOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&affineOp{scale: op.scale, backward: true}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
