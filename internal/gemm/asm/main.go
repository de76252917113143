// Command asm generates the amd64 micro-kernels of package gemm with avo.
// Run it through go generate in internal/gemm:
//
//	go run ./asm -out kernel_amd64.s -stubs kernel_amd64.go -pkg gemm
//
// Every kernel computes one MR x NR tile of C from packed panels:
//
//	C[i][j] (+)= sum over p < k of a[p*lda+i] * b[p*ldb+j]
//
// a holds k groups of MR consecutive values lda elements apart (a packed A
// panel has lda = MR; a transposed A is read in place), b holds k rows of
// NR consecutive values ldb elements apart (a packed B panel has ldb = NR), c
// is row-major with row stride ldc, and acc != 0 adds to C instead of
// overwriting it. k must be >= 1. Each row of the tile is held in NR/W
// vector registers (W = 16 for AVX-512, 8 for AVX2), so MR*NR/W
// accumulators, NR/W loads of B and MR broadcasts of A per step.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

type kernel struct {
	isa    string // "AVX512" or "AVX2"
	mr, nr int
	rows   bool // A is read by rows: a[i*lda+p] instead of a[p*lda+i]
}

// The tiles generated. The AVX-512 ones use up to 24 of 32 registers for
// accumulators, the AVX2 ones up to 12 of 16.
var tiles = []kernel{
	{isa: "AVX512", mr: 4, nr: 32}, {isa: "AVX512", mr: 6, nr: 32}, {isa: "AVX512", mr: 8, nr: 32},
	{isa: "AVX512", mr: 12, nr: 32}, {isa: "AVX512", mr: 8, nr: 16}, {isa: "AVX512", mr: 12, nr: 16},
	{isa: "AVX512", mr: 4, nr: 64},
	{isa: "AVX2", mr: 4, nr: 16}, {isa: "AVX2", mr: 6, nr: 16}, {isa: "AVX2", mr: 4, nr: 8}, {isa: "AVX2", mr: 8, nr: 8},
}

func main() {
	Package("github.com/gorobust/gorobust/internal/gemm")
	ConstraintExpr("amd64")
	for _, k := range tiles {
		generate(k)
		k.rows = true
		generate(k)
	}
	for _, isa := range []string{"AVX512", "AVX2"} {
		vecAdd(isa)
		vecGate(isa)
		vecBiasAct(isa)
	}
	Generate()
}

func generate(kn kernel) {
	width, vec := 16, ZMM
	if kn.isa == "AVX2" {
		width, vec = 8, YMM
	}
	nv := kn.nr / width
	name := fmt.Sprintf("kern%s_%dx%d", kn.isa, kn.mr, kn.nr)
	if kn.rows {
		name += "r"
	}
	TEXT(name, NOSPLIT, "func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)")
	layout := "a[p*lda+i]"
	if kn.rows {
		layout = "a[i*lda+p]"
	}
	Doc(fmt.Sprintf("%s computes a %dx%d tile of C with %s, A(i, p) at %s.", name, kn.mr, kn.nr, kn.isa, layout))
	Pragma("noescape")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(2), lda)
	// By rows, row i is at bases[i/3] + (i%3)*lda: x86 addressing scales
	// an index by 1, 2, 4 or 8, so every third row needs a base of its own.
	var bases []Register
	if kn.rows {
		bases = append(bases, a)
		for i := 3; i < kn.mr; i += 3 {
			r := GP64()
			LEAQ(Mem{Base: bases[len(bases)-1], Index: lda, Scale: 2}, r)
			ADDQ(lda, r)
			bases = append(bases, r)
		}
	}
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)

	accs := make([][]VecVirtual, kn.mr)
	for i := range accs {
		accs[i] = make([]VecVirtual, nv)
		for v := range accs[i] {
			accs[i][v] = vec()
			if kn.isa == "AVX512" {
				VPXORD(accs[i][v], accs[i][v], accs[i][v]) // VXORPS on zmm needs AVX512DQ
			} else {
				VXORPS(accs[i][v], accs[i][v], accs[i][v])
			}
		}
	}
	bv := make([]VecVirtual, nv)
	for v := range bv {
		bv[v] = vec()
	}
	bc := []VecVirtual{vec(), vec()}

	Label(name + "_loop")
	for v := range bv {
		VMOVUPS(Mem{Base: b, Disp: 4 * width * v}, bv[v])
	}
	for i := 0; i < kn.mr; i++ {
		t := bc[i%2]
		if kn.rows {
			m := Mem{Base: bases[i/3]}
			if i%3 > 0 {
				m.Index, m.Scale = lda, uint8(i%3)
			}
			VBROADCASTSS(m, t)
		} else {
			VBROADCASTSS(Mem{Base: a, Disp: 4 * i}, t)
		}
		for v := range bv {
			VFMADD231PS(bv[v], t, accs[i][v])
		}
	}
	if kn.rows {
		for _, r := range bases {
			ADDQ(U8(4), r)
		}
	} else {
		ADDQ(lda, a)
	}
	ADDQ(ldb, b)
	DECQ(k)
	JNZ(LabelRef(name + "_loop"))

	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flag := Load(Param("acc"), GP64())
	TESTQ(flag, flag)
	JZ(LabelRef(name + "_store"))
	row := GP64()
	MOVQ(c, row)
	for i := 0; i < kn.mr; i++ {
		for v := range bv {
			VADDPS(Mem{Base: row, Disp: 4 * width * v}, accs[i][v], accs[i][v])
		}
		if i+1 < kn.mr {
			ADDQ(ldc, row)
		}
	}
	Label(name + "_store")
	for i := 0; i < kn.mr; i++ {
		for v := range bv {
			VMOVUPS(accs[i][v], Mem{Base: c, Disp: 4 * width * v})
		}
		if i+1 < kn.mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// The element-wise kernels take n, a multiple of the vector width W (16
// for AVX-512, 8 for AVX2); the Go wrappers do the rest.

func vecSetup(isa string) (int, func() VecVirtual) {
	if isa == "AVX2" {
		return 8, YMM
	}
	return 16, ZMM
}

// vecAdd: dst[i] += src[i].
func vecAdd(isa string) {
	width, vec := vecSetup(isa)
	name := "add" + isa
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int)")
	Doc(name + " adds src to dst; n is a multiple of the vector width.")
	Pragma("noescape")
	d := Load(Param("dst"), GP64())
	sp := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	v := vec()
	VMOVUPS(Mem{Base: sp}, v)
	VADDPS(Mem{Base: d}, v, v)
	VMOVUPS(v, Mem{Base: d})
	ADDQ(U32(4*width), d)
	ADDQ(U32(4*width), sp)
	SUBQ(U32(width), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// vecGate: dst[i] = d[i] where y[i] > 0, else 0 (the backward of a ReLU
// whose output is y).
func vecGate(isa string) {
	width, vec := vecSetup(isa)
	name := "gate" + isa
	TEXT(name, NOSPLIT, "func(dst, d, y *float32, n int)")
	Doc(name + " sets dst to d where y > 0 and to 0 elsewhere; n is a multiple of the vector width.")
	Pragma("noescape")
	dst := Load(Param("dst"), GP64())
	dp := Load(Param("d"), GP64())
	yp := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	zero := vec()
	VXORPS(zero.AsY(), zero.AsY(), zero.AsY())
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	yv, dv := vec(), vec()
	VMOVUPS(Mem{Base: yp}, yv)
	if isa == "AVX512" {
		VCMPPS(U8(0x1e), zero, yv, K1) // y > 0, ordered
		VMOVUPS_Z(Mem{Base: dp}, K1, dv)
	} else {
		VCMPPS(U8(0x1e), zero, yv, yv)
		VANDPS(Mem{Base: dp}, yv, dv)
	}
	VMOVUPS(dv, Mem{Base: dst})
	ADDQ(U32(4*width), dst)
	ADDQ(U32(4*width), dp)
	ADDQ(U32(4*width), yp)
	SUBQ(U32(width), n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// vecBiasAct: y[r*cols+c] += b[c] for every row r, then max(., 0) when
// relu != 0; cols is a multiple of the vector width.
func vecBiasAct(isa string) {
	width, vec := vecSetup(isa)
	name := "biasAct" + isa
	TEXT(name, NOSPLIT, "func(y, b *float32, rows, cols, relu int)")
	Doc(name + " adds b to every row of y and applies a ReLU when relu != 0; cols is a multiple of the vector width.")
	Pragma("noescape")
	y := Load(Param("y"), GP64())
	b := Load(Param("b"), GP64())
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	relu := Load(Param("relu"), GP64())
	zero := vec()
	VXORPS(zero.AsY(), zero.AsY(), zero.AsY())
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	TESTQ(cols, cols)
	JZ(LabelRef(name + "_done"))
	Label(name + "_row")
	c, bp := GP64(), GP64()
	MOVQ(cols, c)
	MOVQ(b, bp)
	Label(name + "_col")
	v := vec()
	VMOVUPS(Mem{Base: y}, v)
	VADDPS(Mem{Base: bp}, v, v)
	TESTQ(relu, relu)
	JZ(LabelRef(name + "_store"))
	VMAXPS(zero, v, v)
	Label(name + "_store")
	VMOVUPS(v, Mem{Base: y})
	ADDQ(U32(4*width), y)
	ADDQ(U32(4*width), bp)
	SUBQ(U32(width), c)
	JNZ(LabelRef(name + "_col"))
	DECQ(rows)
	JNZ(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
