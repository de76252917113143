package gemm

import "golang.org/x/sys/cpu"

// The amd64 kernels, by instruction set. The first entry of each list is
// the default; the others remain for tests and benchmarks
// (go test -bench Sgemm compares them on the reference CNN's products).
// Measured on a Zen 5 EPYC, one thread: AVX-512 8x32 reaches ~200
// GFLOP/s on the reference CNN's products, 8x16 serves products at most
// 16 wide (~140 against ~30 for 8x32), AVX2 6x16 ~95.
var (
	avx512Impls = []*impl[float32]{
		{name: "AVX512", mr: 8, nr: 32, kern: kernAVX512_8x32, rows: kernAVX512_8x32r},
		{name: "AVX512", mr: 4, nr: 32, kern: kernAVX512_4x32, rows: kernAVX512_4x32r},
		{name: "AVX512", mr: 6, nr: 32, kern: kernAVX512_6x32, rows: kernAVX512_6x32r},
		{name: "AVX512", mr: 12, nr: 32, kern: kernAVX512_12x32, rows: kernAVX512_12x32r},
		{name: "AVX512", mr: 8, nr: 16, kern: kernAVX512_8x16, rows: kernAVX512_8x16r},
		{name: "AVX512", mr: 12, nr: 16, kern: kernAVX512_12x16, rows: kernAVX512_12x16r},
		{name: "AVX512", mr: 4, nr: 64, kern: kernAVX512_4x64, rows: kernAVX512_4x64r},
	}
	avx2Impls = []*impl[float32]{
		{name: "AVX2", mr: 6, nr: 16, kern: kernAVX2_6x16, rows: kernAVX2_6x16r},
		{name: "AVX2", mr: 4, nr: 16, kern: kernAVX2_4x16, rows: kernAVX2_4x16r},
		{name: "AVX2", mr: 4, nr: 8, kern: kernAVX2_4x8, rows: kernAVX2_4x8r},
		{name: "AVX2", mr: 8, nr: 8, kern: kernAVX2_8x8, rows: kernAVX2_8x8r},
	}
)

// available lists every float32 kernel this CPU can run, the fastest
// first.
func available() []*impl[float32] {
	var out []*impl[float32]
	if cpu.X86.HasAVX512F {
		out = append(out, avx512Impls...)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		out = append(out, avx2Impls...)
	}
	return append(out, &sgemmGo)
}

var sgemmImpl = func() *impl[float32] {
	im := available()[0]
	if im == avx512Impls[0] {
		im.narrow = avx512Impls[4]
	}
	return im
}()

// vectorSets lists the element-wise kernels this CPU can run, the
// fastest first; the last is Go.
func vectorSets() []vectorKernels {
	var out []vectorKernels
	if cpu.X86.HasAVX512F {
		out = append(out, vectorKernels{width: 16, add: addAVX512, gate: gateAVX512, biasAct: biasActAVX512})
	}
	if cpu.X86.HasAVX2 {
		out = append(out, vectorKernels{width: 8, add: addAVX2, gate: gateAVX2, biasAct: biasActAVX2})
	}
	return append(out, vectorKernels{width: 1})
}

var vec = vectorSets()[0]
