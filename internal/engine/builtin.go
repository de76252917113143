package engine

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buildBuiltin adds the layers to g with Gorgonia's own Conv2d, Mul,
// Rectify, MaxPool2D, Reshape and HadamardProd, as the engine did before it
// had its own kernels. Tests compare the two paths; a Net uses this one
// only when its builtin field is set. Dense weights are in x out here.
func buildBuiltin[T float](net *Net, g *G.ExprGraph, p *program, weights []*G.Node) (h *G.Node, err error) {
	key, n := p.key, p.key.n
	h = p.x
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
			h, err = G.ApplyOp(newAffineOp[T](h.Shape(), scale, shift, false), h)
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
			h, err = G.ApplyOp(newAvgPoolOp[T](h.Shape(), l.Kernel, l.Stride, false), h)
		case Flatten:
			if s := net.shapes[i]; h.Shape().Dims() != 2 {
				h, err = G.Reshape(h, tensor.Shape{n, s.C})
			}
		case Dropout:
			if key.p == training && l.P > 0 {
				m := G.NewTensor(g, net.dt, h.Shape().Dims(), G.WithShape(h.Shape().Clone()...), G.WithName(fmt.Sprintf("%d.mask", i)),
					G.WithValue(tensor.New(tensor.Of(net.dt), tensor.WithShape(h.Shape().Clone()...))))
				p.masks = append(p.masks, m)
				p.maskP = append(p.maskP, l.P)
				h, err = G.HadamardProd(h, m)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("engine: layer %d (%v): %w", i, l.Kind, err)
		}
	}
	return h, nil
}
