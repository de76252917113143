// im2col and col2im: the receptive-field layouts that lower a convolution
// to one GEMM, in NCHW (channel-major) and NHWC (pixel-major) order.

package engine

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

// zero clears a short slice without a call.
func zero[T float](d []T) {
	for i := range d {
		d[i] = 0
	}
}
