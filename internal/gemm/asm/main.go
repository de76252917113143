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
