package gemm

// The element-wise kernels the engine runs around its products: adding a
// run of gradients (col2im), the backward of a ReLU and the bias-and-ReLU
// epilogue of a layer. They use the same instruction set as Sgemm.

// AddTo adds src to dst element-wise; the slices have the same length.
func AddTo(dst, src []float32) {
	src = src[:len(dst)]
	n := 0
	if vec.add != nil {
		n = len(dst) / vec.width * vec.width
		if n > 0 {
			vec.add(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// ReLUGate sets dst[i] to d[i] where y[i] > 0 and to 0 elsewhere (NaN is
// not positive): the gradient through a ReLU whose output is y. The slices
// have the same length; dst may be d.
func ReLUGate(dst, d, y []float32) {
	d, y = d[:len(dst)], y[:len(dst)]
	n := 0
	if vec.gate != nil {
		n = len(dst) / vec.width * vec.width
		if n > 0 {
			vec.gate(&dst[0], &d[0], &y[0], n)
		}
	}
	for i := n; i < len(dst); i++ {
		v := float32(0)
		if y[i] > 0 {
			v = d[i]
		}
		dst[i] = v
	}
}

// BiasAct adds b to every row of the row-major matrix y (len(y) a
// multiple of len(b)) and, if relu, replaces negative results by 0.
func BiasAct(y, b []float32, relu bool) {
	cols := len(b)
	if cols == 0 {
		return
	}
	rows := len(y) / cols
	r := 0
	if relu {
		r = 1
	}
	if vec.biasAct != nil && cols%vec.width == 0 && rows > 0 {
		vec.biasAct(&y[0], &b[0], rows, cols, r)
		return
	}
	for i := 0; i < rows; i++ {
		row := y[i*cols:][:cols]
		for j, v := range row {
			v += b[j]
			if relu {
				v = max(v, 0)
			}
			row[j] = v
		}
	}
}

// vectorKernels are the assembly element-wise kernels of one instruction
// set, for lengths that are multiples of width; nil functions mean Go.
type vectorKernels struct {
	width   int
	add     func(dst, src *float32, n int)
	gate    func(dst, d, y *float32, n int)
	biasAct func(y, b *float32, rows, cols, relu int)
}
