package engine

import (
	"fmt"
	"hash"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/gorobust/gorobust/internal/gemm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the element type of a program: float32 for speed, float64 for
// gradient checks.
type float interface{ float32 | float64 }

// opBase gives a stateful op the parts of G.Op that do not depend on what
// it computes. name includes the op's address: Gorgonia merges nodes whose
// ops hash alike and whose children are the same, and two ops that hold
// buffers must never be merged.
type opBase struct{ name string }

func newBase(op any, kind string) opBase { return opBase{name: fmt.Sprintf("%s@%p", kind, op)} }

func (b *opBase) ReturnsPtr() bool      { return false }
func (b *opBase) CallsExtern() bool     { return false }
func (b *opBase) OverwritesInput() int  { return -1 }
func (b *opBase) WriteHash(h hash.Hash) { _, _ = h.Write([]byte(b.name)) }
func (b *opBase) Hashcode() uint32      { return hashOf(b) }
func (b *opBase) String() string        { return b.name }

// fnType is the type of an op taking tensors of the given ranks and
// returning a tensor of rank out, all of one dtype. hm recycles the types
// it is given, so every call builds a fresh one.
func fnType(out int, in ...int) hm.Type {
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, tensorType(d))
	}
	return hm.NewFnType(append(ts, tensorType(out))...)
}

// dataOf returns the backing slice of a tensor value of element type T.
func dataOf[T float](v G.Value) ([]T, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("engine: expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]T)
	if !ok {
		return nil, fmt.Errorf("engine: tensor of %v, want %T", t.Dtype(), *new(T))
	}
	return d, nil
}

// dataOfN is dataOf that also checks the number of values.
func dataOfN[T float](v G.Value, n int) ([]T, error) {
	d, err := dataOf[T](v)
	if err == nil && len(d) != n {
		err = fmt.Errorf("engine: tensor of %d values, want %d", len(d), n)
	}
	return d, err
}

// held returns *t, allocating it on first use: ops keep their outputs and
// scratch buffers across runs, because the TapeMachine's Reset drops
// every buffer it allocated itself.
func held[T float](t **tensor.Dense, shape ...int) *tensor.Dense {
	if *t == nil {
		n := 1
		for _, d := range shape {
			n *= d
		}
		*t = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]T, n)))
	}
	return *t
}

// scratch returns *s with length n, growing it when it is too short. Its
// contents are whatever the last user left: every caller overwrites the
// values it reads.
func scratch[E any](s *[]E, n int) []E {
	if cap(*s) < n {
		*s = make([]E, n)
	}
	*s = (*s)[:n]
	return *s
}

// pad holds the scratch buffers of one replica's programs, one per layer
// and purpose, shared by all of them. A replica runs one program at a time,
// and no op reads scratch contents left by another run, except dense's
// transposed weights, which every program of a layer computes identically
// for a given weight version. Sharing makes a replica's scratch memory that
// of its largest program instead of the sum over its cached programs.
type pad struct {
	slots map[padKey]any
}

type padKey struct {
	layer int
	name  string
}

// slot returns the shared buffer of layer's scratch name, creating it on
// first use.
func slot[E any](p *pad, layer int, name string) *[]E {
	k := padKey{layer, name}
	if s, ok := p.slots[k]; ok {
		return s.(*[]E)
	}
	s := new([]E)
	if p.slots == nil {
		p.slots = map[padKey]any{}
	}
	p.slots[k] = s
	return s
}

func data[T float](t *tensor.Dense) []T { return t.Data().([]T) }

// mm computes C (+)= op(A)·op(B) for row-major matrices (see package
// gemm): float32 on the SIMD kernels, float64 on the portable one.
func mm[T float](transA, transB bool, m, n, k int, a []T, lda int, b []T, ldb int, acc bool, c []T, ldc int) {
	var z T
	if unsafe.Sizeof(z) == 4 {
		gemm.Sgemm(transA, transB, m, n, k, cast[T, float32](a), lda, cast[T, float32](b), ldb, acc, cast[T, float32](c), ldc)
		return
	}
	gemm.Dgemm(transA, transB, m, n, k, cast[T, float64](a), lda, cast[T, float64](b), ldb, acc, cast[T, float64](c), ldc)
}

// cast reinterprets a slice of T as a slice of U of the same size; mm
// calls it only when T is U.
func cast[T, U float](s []T) []U {
	return unsafe.Slice((*U)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// addVec adds s to d (same length), in SIMD for float32.
func addVec[T float](d, s []T) {
	var z T
	if unsafe.Sizeof(z) == 4 {
		gemm.AddTo(cast[T, float32](d), cast[T, float32](s))
		return
	}
	s = s[:len(d)]
	for i, v := range s {
		d[i] += v
	}
}

// reluGate sets dst[i] to d[i] where y[i] > 0, else 0: the gradient
// through a ReLU with output y. In float32 it runs in SIMD, without the
// branch that ReLU's random masks would mispredict half the time.
func reluGate[T float](dst, d, y []T) {
	var z T
	if unsafe.Sizeof(z) == 4 {
		gemm.ReLUGate(cast[T, float32](dst), cast[T, float32](d), cast[T, float32](y))
		return
	}
	d, y = d[:len(dst)], y[:len(dst)]
	for i := range dst {
		var v T
		if y[i] > 0 {
			v = d[i]
		}
		dst[i] = v
	}
}

// biasAct adds b to every row of y and applies a ReLU if relu.
func biasAct[T float](y, b []T, relu bool) {
	var z T
	if unsafe.Sizeof(z) == 4 {
		gemm.BiasAct(cast[T, float32](y), cast[T, float32](b), relu)
		return
	}
	cols := len(b)
	for i := 0; i+cols <= len(y); i += cols {
		row := y[i : i+cols]
		for j, v := range row {
			v += b[j]
			if relu {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}

// transposeBlock writes the rows x cols matrix src into dst as cols x
// rows, in 8 x 8 tiles so that both sides touch few cache lines at a time.
func transposeBlock[T float](dst, src []T, rows, cols int) {
	src, dst = src[:rows*cols], dst[:rows*cols]
	const b = 8
	for r0 := 0; r0 < rows; r0 += b {
		r1 := min(r0+b, rows)
		for c0 := 0; c0 < cols; c0 += b {
			c1 := min(c0+b, cols)
			for r := r0; r < r1; r++ {
				row := src[r*cols+c0 : r*cols+c1]
				for i, v := range row {
					dst[(c0+i)*rows+r] = v
				}
			}
		}
	}
}
