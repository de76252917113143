package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeom is the geometry of a square convolution over a batch.
type convGeom struct {
	n, cin, h, w    int // input batch, channels and size
	cout, k, s, pad int
	oh, ow          int // output size
	relu            bool
	needX, needW    bool // which input gradients the program uses
	// inNHWC and outNHWC say that the input or output is stored
	// position-major (N x H x W x C) although its graph shape is NCHW:
	// only between two convolutions, where it saves transposes and makes
	// the receptive fields runs of k*C consecutive values.
	inNHWC, outNHWC    bool
	kdim, pix, columns int // cin*k*k, oh*ow, n*oh*ow
}

func newConvGeom(n, cin, h, w, cout, k, s, pad int) convGeom {
	g := convGeom{n: n, cin: cin, h: h, w: w, cout: cout, k: k, s: s, pad: pad,
		oh: (h+2*pad-k)/s + 1, ow: (w+2*pad-k)/s + 1}
	g.kdim, g.pix = cin*k*k, g.oh*g.ow
	g.columns = n * g.pix
	return g
}

// span returns the range [lo, hi) of output positions o < out for which
// o*s + off lies in [0, n).
func span(off, s, n, out int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	hi = out
	if last := (n - 1 - off); last < 0 {
		hi = 0
	} else if last/s+1 < hi {
		hi = last/s + 1
	}
	return lo, min(max(lo, hi), out)
}

// im2col writes the L x K matrix of receptive fields of x, one row per
// output position. The columns are in the order of PyTorch's weights,
// (c, ky, kx), for an NCHW input, and (ky, kx, c) for an NHWC one.
func im2col[T float](g convGeom, x, col []T) {
	if g.inNHWC {
		im2colNHWC(g, x, col)
	} else {
		im2colNCHW(g, x, col)
	}
}

// col2im adds every entry of the L x K matrix col to the input position
// im2col took it from: dx receives the gradient of the receptive fields.
func col2im[T float](g convGeom, col, dx []T) {
	if g.inNHWC {
		col2imNHWC(g, col, dx)
	} else {
		col2imNCHW(g, col, dx)
	}
}

// im2colNHWC is im2col of an NHWC input: row (image*oh+oy)*ow+ox, column
// (ky*k+kx)*C+c holds x[image][oy*s-pad+ky][ox*s-pad+kx][c]. For each ky
// the valid kx are one run of consecutive values.
func im2colNHWC[T float](g convGeom, x, col []T) {
	k, cin, rowLen, img := g.k, g.cin, g.w*g.cin, g.h*g.w*g.cin
	for n := 0; n < g.n; n++ {
		src := x[n*img:][:img]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*g.s - g.pad
			for ox := 0; ox < g.ow; ox++ {
				row := col[((n*g.oh+oy)*g.ow+ox)*g.kdim:][:g.kdim]
				x0 := ox*g.s - g.pad
				lo, hi := max(0, -x0), min(k, g.w-x0)
				for ky := 0; ky < k; ky++ {
					d := row[ky*k*cin:][:k*cin]
					iy := y0 + ky
					if iy < 0 || iy >= g.h || lo >= hi {
						clear(d)
						continue
					}
					clear(d[:lo*cin])
					copy(d[lo*cin:hi*cin], src[iy*rowLen+(x0+lo)*cin:])
					clear(d[hi*cin:])
				}
			}
		}
	}
}

// col2imNHWC is col2im into an NHWC dx.
func col2imNHWC[T float](g convGeom, col, dx []T) {
	k, cin, rowLen, img := g.k, g.cin, g.w*g.cin, g.h*g.w*g.cin
	for n := 0; n < g.n; n++ {
		dst := dx[n*img:][:img]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*g.s - g.pad
			for ox := 0; ox < g.ow; ox++ {
				row := col[((n*g.oh+oy)*g.ow+ox)*g.kdim:][:g.kdim]
				x0 := ox*g.s - g.pad
				lo, hi := max(0, -x0), min(k, g.w-x0)
				if lo >= hi {
					continue
				}
				for ky := 0; ky < k; ky++ {
					iy := y0 + ky
					if iy < 0 || iy >= g.h {
						continue
					}
					s := row[ky*k*cin+lo*cin : ky*k*cin+hi*cin]
					addVec(dst[iy*rowLen+(x0+lo)*cin:][:len(s)], s)
				}
			}
		}
	}
}

// im2colNCHW is im2col of an NCHW input: row (image*oh+oy)*ow+ox, column (c*k+ky)*k+kx holds
// x[image][c][oy*s-pad+ky][ox*s-pad+kx], zero in the padding. Each row is
// made of runs of k consecutive input values, so the loops move whole
// runs; the planes of one image stay in the L1 cache.
func im2colNCHW[T float](g convGeom, x, col []T) {
	k, w, hw, chw, kk := g.k, g.w, g.h*g.w, g.cin*g.h*g.w, g.k*g.k
	for img := 0; img < g.n; img++ {
		planes := x[img*chw:][:chw]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*g.s - g.pad
			kylo, kyhi := max(0, -y0), min(k, g.h-y0) // valid ky
			for ox := 0; ox < g.ow; ox++ {
				row := col[((img*g.oh+oy)*g.ow+ox)*g.kdim:][:g.kdim]
				x0 := ox*g.s - g.pad
				lo, hi := max(0, -x0), min(k, w-x0) // valid kx
				if lo >= hi || kylo >= kyhi {
					clear(row)
					continue
				}
				for c := 0; c < g.cin; c++ {
					base := c*hw + y0*w + x0 // of (ky, kx) = (0, 0); may lie outside the plane
					dst := row[c*kk:][:kk]
					zero(dst[:kylo*k])
					zero(dst[kyhi*k:])
					if k == 4 && lo == 0 && hi == 4 {
						for ky := kylo; ky < kyhi; ky++ {
							*(*[4]T)(dst[ky*4:]) = *(*[4]T)(planes[base+ky*w:])
						}
						continue
					}
					for ky := kylo; ky < kyhi; ky++ {
						d := dst[ky*k:][:k]
						zero(d[:lo])
						copy(d[lo:hi], planes[base+ky*w+lo:base+ky*w+hi])
						zero(d[hi:])
					}
				}
			}
		}
	}
}

// col2imNCHW is col2im into an NCHW dx.
func col2imNCHW[T float](g convGeom, col, dx []T) {
	k, w, hw, chw, kk := g.k, g.w, g.h*g.w, g.cin*g.h*g.w, g.k*g.k
	for img := 0; img < g.n; img++ {
		planes := dx[img*chw:][:chw]
		for oy := 0; oy < g.oh; oy++ {
			y0 := oy*g.s - g.pad
			kylo, kyhi := max(0, -y0), min(k, g.h-y0)
			for ox := 0; ox < g.ow; ox++ {
				row := col[((img*g.oh+oy)*g.ow+ox)*g.kdim:][:g.kdim]
				x0 := ox*g.s - g.pad
				lo, hi := max(0, -x0), min(k, w-x0)
				if lo >= hi || kylo >= kyhi {
					continue
				}
				for c := 0; c < g.cin; c++ {
					base := c*hw + y0*w + x0 // of (ky, kx) = (0, 0); may lie outside the plane
					src := row[c*kk:][:kk]
					if k == 4 && lo == 0 && hi == 4 {
						for ky := kylo; ky < kyhi; ky++ {
							d, s := (*[4]T)(planes[base+ky*w:]), (*[4]T)(src[ky*4:])
							d[0] += s[0]
							d[1] += s[1]
							d[2] += s[2]
							d[3] += s[3]
						}
						continue
					}
					for ky := kylo; ky < kyhi; ky++ {
						d := planes[base+ky*w+lo:][:hi-lo]
						for i, v := range src[ky*k+lo : ky*k+hi] {
							d[i] += v
						}
					}
				}
			}
		}
	}
}

// moveRun copies a run of len(d) values; runs of 4 (the reference CNN's
// kernels) are one 16- or 32-byte move.
func moveRun[T float](d, s []T) {
	if len(d) == 4 && len(s) == 4 {
		*(*[4]T)(d) = *(*[4]T)(s)
		return
	}
	copy(d, s)
}

// addRun adds s to d.
func addRun[T float](d, s []T) {
	if len(d) == 4 && len(s) == 4 {
		dd, ss := (*[4]T)(d), (*[4]T)(s)
		dd[0] += ss[0]
		dd[1] += ss[1]
		dd[2] += ss[2]
		dd[3] += ss[3]
		return
	}
	s = s[:len(d)]
	for i, v := range s {
		d[i] += v
	}
}

// zero clears a short slice without a call.
func zero[T float](d []T) {
	for i := range d {
		d[i] = 0
	}
}

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
