package engine

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// denseOp is a dense layer with bias, optionally followed by a ReLU:
// inputs x (N x In), weights (Out x In, PyTorch layout) and bias (Out);
// y = x·W^T + b. The weights are never transposed in memory: the GEMM
// reads them in place.
type denseOp[T float] struct {
	opBase
	n, in, out   int
	relu         bool
	needX, needW bool
	run          uint64

	// wt holds the weights transposed (In x Out), so that the forward GEMM
	// reads them in place, once *ver (the version of the program's
	// weights) has stayed the same for two runs: an attack runs many times
	// on fixed weights, while a training loop changes them every step, and
	// transposing them then costs more than letting the GEMM pack them.
	wt             *[]T // shared with the replica's other programs (see pad)
	ver            *uint64
	wtVer, lastVer uint64
	y              *tensor.Dense
	back           denseBack[T]
}

type denseBack[T float] struct {
	run        uint64
	dy         *[]T // upstream gradient through the ReLU, N x Out
	dx, dw, db *tensor.Dense
}

func newDenseOp[T float](n, in, out int, relu, needX, needW bool, ver *uint64, p *pad, layer int) *denseOp[T] {
	op := &denseOp[T]{n: n, in: in, out: out, relu: relu, needX: needX, needW: needW, ver: ver,
		wt: slot[T](p, layer, "wt"), back: denseBack[T]{dy: slot[T](p, layer, "dy")}}
	op.opBase = newBase(op, fmt.Sprintf("Dense(%d->%d relu=%v)", in, out, relu))
	return op
}

func (op *denseOp[T]) Arity() int    { return 3 }
func (op *denseOp[T]) Type() hm.Type { return fnType(2, 2, 2, 1) }
func (op *denseOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.out}, nil
}

func (op *denseOp[T]) Do(vs ...G.Value) (G.Value, error) {
	x, err := dataOfN[T](vs[0], op.n*op.in)
	if err != nil {
		return nil, err
	}
	w, err := dataOfN[T](vs[1], op.out*op.in)
	if err != nil {
		return nil, err
	}
	b, err := dataOfN[T](vs[2], op.out)
	if err != nil {
		return nil, err
	}
	yt := held[T](&op.y, op.n, op.out)
	y := data[T](yt)
	ver := *op.ver
	if len(*op.wt) > 0 && op.wtVer == ver {
		mm(false, false, op.n, op.out, op.in, x, op.in, *op.wt, op.out, false, y, op.out)
	} else if ver == op.lastVer {
		transposeBlock(scratch(op.wt, len(w)), w, op.out, op.in)
		op.wtVer = ver
		mm(false, false, op.n, op.out, op.in, x, op.in, *op.wt, op.out, false, y, op.out)
	} else {
		mm(false, true, op.n, op.out, op.in, x, op.in, w, op.in, false, y, op.out)
	}
	op.lastVer = ver
	biasAct(y, b, op.relu)
	op.run++
	return yt, nil
}

func (op *denseOp[T]) DiffWRT(int) []bool { return []bool{op.needX, op.needW, op.needW} }

func (op *denseOp[T]) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 3)
	for i, need := range op.DiffWRT(3) {
		if !need {
			continue
		}
		n, err := G.ApplyOp(newDenseGradOp(op, gradPart(i)), inputs[0], inputs[1], output, grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// denseGradOp computes one input gradient of a denseOp from x, the
// weights, the output and the upstream gradient.
type denseGradOp[T float] struct {
	opBase
	fwd  *denseOp[T]
	part gradPart
}

func newDenseGradOp[T float](fwd *denseOp[T], part gradPart) *denseGradOp[T] {
	op := &denseGradOp[T]{fwd: fwd, part: part}
	op.opBase = newBase(op, fmt.Sprintf("DenseGrad(%v of %s)", part, fwd.name))
	return op
}

func (op *denseGradOp[T]) Arity() int    { return 4 }
func (op *denseGradOp[T]) Type() hm.Type { return fnType([]int{2, 2, 1}[op.part], 2, 2, 2, 2) }
func (op *denseGradOp[T]) InferShape(...G.DimSizer) (tensor.Shape, error) {
	f := op.fwd
	return [...]tensor.Shape{{f.n, f.in}, {f.out, f.in}, {f.out}}[op.part], nil
}

func (op *denseGradOp[T]) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	bk := &f.back
	if bk.run != f.run {
		y, err := dataOfN[T](vs[2], f.n*f.out)
		if err != nil {
			return nil, err
		}
		dy, err := dataOfN[T](vs[3], f.n*f.out)
		if err != nil {
			return nil, err
		}
		d := scratch(bk.dy, f.n*f.out)
		if f.relu {
			reluGate(d, dy, y)
		} else {
			copy(d, dy)
		}
		bk.run = f.run
	}
	switch op.part {
	case partX:
		w, err := dataOfN[T](vs[1], f.out*f.in)
		if err != nil {
			return nil, err
		}
		dx := held[T](&bk.dx, f.n, f.in)
		mm(false, false, f.n, f.in, f.out, *bk.dy, f.out, w, f.in, false, data[T](dx), f.in)
		return dx, nil
	case partW:
		x, err := dataOfN[T](vs[0], f.n*f.in)
		if err != nil {
			return nil, err
		}
		dw := held[T](&bk.dw, f.out, f.in)
		mm(true, false, f.out, f.in, f.n, *bk.dy, f.out, x, f.in, false, data[T](dw), f.in)
		return dw, nil
	}
	db := held[T](&bk.db, f.out)
	d := data[T](db)
	clear(d)
	for i := 0; i < f.n; i++ {
		for j, v := range (*bk.dy)[i*f.out:][:f.out] {
			d[j] += v
		}
	}
	return db, nil
}
