package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convOp is a convolution with bias, optionally followed by a ReLU:
// inputs x (N x Cin x H x W), weights (Cout x Cin x k x k, PyTorch layout)
// and bias (Cout). It lowers the convolution to one GEMM over the whole
// batch: weights (Cout x K) times the receptive fields (K x N*oh*ow).
// The op keeps its output and scratch buffers across runs, and the
// receptive fields for the weight gradient.
type convOp[T float] struct {
	opBase
	g   convGeom
	run uint64 // forward runs: the backward parts share work per run

	col, tmp *[]T // shared with the replica's other programs (see pad)
	wp       *[]T // weights in NHWC column order, inNHWC only
	out      *tensor.Dense
	back     convBack[T]
}

// convBack is the state the backward parts of one convOp share.
type convBack[T float] struct {
	run        uint64 // forward run dy was prepared for
	dy         *[]T   // upstream gradient through the ReLU, L x Cout
	dcol, dwp  *[]T
	gated      *[]T // dy through the ReLU, NCHW, before the transpose
	dx, dw, db *tensor.Dense
}

func newConvOp[T float](g convGeom, p *pad, layer int) *convOp[T] {
	op := &convOp[T]{g: g,
		col: slot[T](p, layer, "col"), tmp: slot[T](p, layer, "tmp"), wp: slot[T](p, layer, "wp"),
		back: convBack[T]{dy: slot[T](p, layer, "dy"), dcol: slot[T](p, layer, "dcol"), dwp: slot[T](p, layer, "dwp"), gated: slot[T](p, layer, "gated")}}
	op.opBase = newBase(op, fmt.Sprintf("Conv(%dx%d s%d p%d relu=%v)", g.k, g.k, g.s, g.pad, g.relu))
	return op
}

func (op *convOp[T]) Arity() int { return 3 }
func (op *convOp[T]) Type() hm.Type {
	return fnType(4, 4, 4, 1)
}
func (op *convOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.n, op.g.cout, op.g.oh, op.g.ow}, nil
}

func (op *convOp[T]) Do(vs ...G.Value) (G.Value, error) {
	g := op.g
	x, err := dataOfN[T](vs[0], g.n*g.cin*g.h*g.w)
	if err != nil {
		return nil, err
	}
	w, err := dataOfN[T](vs[1], g.cout*g.kdim)
	if err != nil {
		return nil, err
	}
	b, err := dataOfN[T](vs[2], g.cout)
	if err != nil {
		return nil, err
	}
	if g.inNHWC {
		w = op.permuted(w)
	}
	col := scratch(op.col, g.columns*g.kdim)
	im2col(g, x, col)
	out := held[T](&op.out, g.n, g.cout, g.oh, g.ow)
	y := data[T](out)
	if g.outNHWC {
		// y (L x Cout) = col (L x K) · W^T (K x Cout), then bias and ReLU
		// in place.
		mm(false, true, g.columns, g.cout, g.kdim, col, g.kdim, w, g.kdim, false, y, g.cout)
		biasAct(y, b, g.relu)
		op.run++
		return out, nil
	}
	tmp := scratch(op.tmp, g.columns*g.cout)
	mm(false, true, g.columns, g.cout, g.kdim, col, g.kdim, w, g.kdim, false, tmp, g.cout)
	// tmp is position-major (NHWC); the output is NCHW.
	biasAct(tmp, b, g.relu)
	for img := 0; img < g.n; img++ {
		n := g.pix * g.cout
		transposeBlock(y[img*n:][:n], tmp[img*n:][:n], g.pix, g.cout)
	}
	op.run++
	return out, nil
}

// permuted returns the weights with each row in im2col's NHWC column
// order (ky, kx, c) instead of PyTorch's (c, ky, kx).
func (op *convOp[T]) permuted(w []T) []T {
	g := op.g
	kk := g.k * g.k
	wp := scratch(op.wp, len(w))
	for o := 0; o < g.cout; o++ {
		src, dst := w[o*g.kdim:][:g.kdim], wp[o*g.kdim:][:g.kdim]
		for c := 0; c < g.cin; c++ {
			for t := 0; t < kk; t++ {
				dst[t*g.cin+c] = src[c*kk+t]
			}
		}
	}
	return wp
}

func (op *convOp[T]) DiffWRT(int) []bool { return []bool{op.g.needX, op.g.needW, op.g.needW} }

// SymDiff returns the gradient parts the program needs; each takes x, the
// weights, the output (the ReLU mask) and the upstream gradient as
// children, so Gorgonia keeps them alive until the parts have run.
func (op *convOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 3)
	for i, need := range op.DiffWRT(3) {
		if !need {
			continue
		}
		n, err := G.ApplyOp(newConvGradOp(op, gradPart(i)), inputs[0], inputs[1], output, grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// gradPart says which input a backward op differentiates.
type gradPart int

const (
	partX gradPart = iota
	partW
	partB
)

func (p gradPart) String() string { return [...]string{"x", "w", "b"}[p] }

type convGradOp[T float] struct {
	opBase
	fwd  *convOp[T]
	part gradPart
}

func newConvGradOp[T float](fwd *convOp[T], part gradPart) *convGradOp[T] {
	op := &convGradOp[T]{fwd: fwd, part: part}
	op.opBase = newBase(op, fmt.Sprintf("ConvGrad(%v of %s)", part, fwd.name))
	return op
}

func (op *convGradOp[T]) Arity() int { return 4 }
func (op *convGradOp[T]) Type() hm.Type {
	return fnType([]int{4, 4, 1}[op.part], 4, 4, 4, 4)
}
func (op *convGradOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	g := op.fwd.g
	switch op.part {
	case partX:
		return tensor.Shape{g.n, g.cin, g.h, g.w}, nil
	case partW:
		return tensor.Shape{g.cout, g.cin, g.k, g.k}, nil
	}
	return tensor.Shape{g.cout}, nil
}

func (op *convGradOp[T]) Do(vs ...G.Value) (G.Value, error) {
	fwd, g := op.fwd, op.fwd.g
	bk := &fwd.back
	w, err := dataOfN[T](vs[1], g.cout*g.kdim)
	if err != nil {
		return nil, err
	}
	if bk.run != fwd.run {
		y, err := dataOfN[T](vs[2], g.n*g.cout*g.pix)
		if err != nil {
			return nil, err
		}
		dy, err := dataOfN[T](vs[3], g.n*g.cout*g.pix)
		if err != nil {
			return nil, err
		}
		// d (L x Cout) is dy through the ReLU, position-major like the
		// forward's GEMM output.
		d := scratch(bk.dy, g.columns*g.cout)
		switch {
		case g.outNHWC && g.relu:
			reluGate(d, dy, y)
		case g.outNHWC:
			copy(d, dy)
		default:
			// Gate in NCHW, then transpose each image to NHWC.
			src := dy
			if g.relu {
				src = scratch(bk.gated, len(dy))
				reluGate(src, dy, y)
			}
			for img := 0; img < g.n; img++ {
				n := g.pix * g.cout
				transposeBlock(d[img*n:][:n], src[img*n:][:n], g.cout, g.pix)
			}
		}
		bk.run = fwd.run
	}
	switch op.part {
	case partX:
		// dcol (L x K) = dy (L x Cout) · W (Cout x K).
		if g.inNHWC {
			w = *fwd.wp // permuted by the forward of this run
		}
		dcol := scratch(bk.dcol, g.columns*g.kdim)
		mm(false, false, g.columns, g.kdim, g.cout, *bk.dy, g.cout, w, g.kdim, false, dcol, g.kdim)
		dx := held[T](&bk.dx, g.n, g.cin, g.h, g.w)
		clear(data[T](dx))
		col2im(g, dcol, data[T](dx))
		return dx, nil
	case partW:
		// dW (Cout x K) = dy^T (Cout x L) · col (L x K), read in place.
		dw := held[T](&bk.dw, g.cout, g.cin, g.k, g.k)
		if !g.inNHWC {
			mm(true, false, g.cout, g.kdim, g.columns, *bk.dy, g.cout, *fwd.col, g.kdim, false, data[T](dw), g.kdim)
			return dw, nil
		}
		dwp := scratch(bk.dwp, g.cout*g.kdim)
		mm(true, false, g.cout, g.kdim, g.columns, *bk.dy, g.cout, *fwd.col, g.kdim, false, dwp, g.kdim)
		kk := g.k * g.k
		d := data[T](dw)
		for o := 0; o < g.cout; o++ {
			src, dst := dwp[o*g.kdim:][:g.kdim], d[o*g.kdim:][:g.kdim]
			for c := 0; c < g.cin; c++ {
				for t := 0; t < kk; t++ {
					dst[c*kk+t] = src[t*g.cin+c]
				}
			}
		}
		return dw, nil
	}
	db := held[T](&bk.db, g.cout)
	d := data[T](db)
	clear(d)
	for l := 0; l < g.columns; l++ {
		addVec(d, (*bk.dy)[l*g.cout:][:g.cout])
	}
	return db, nil
}
