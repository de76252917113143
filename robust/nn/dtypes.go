package nn

import (
	"encoding/binary"
	"math"
)

// Safetensors dtype names.
const (
	dtypeF32  = "F32"
	dtypeF64  = "F64"
	dtypeF16  = "F16"
	dtypeBF16 = "BF16"
)

// dtypeSize is the element size of every dtype this package reads.
func dtypeSize(dt string) int {
	switch dt {
	case dtypeF32:
		return 4
	case dtypeF64:
		return 8
	case dtypeF16, dtypeBF16:
		return 2
	}
	return 0
}

// valueAt decodes element i of the little-endian data b of dtype dt.
func valueAt(b []byte, dt string, i int) float64 {
	switch dt {
	case dtypeF32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	case dtypeF64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	case dtypeF16:
		return float64(halfToFloat32(binary.LittleEndian.Uint16(b[2*i:])))
	case dtypeBF16:
		return float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16))
	}
	panic("nn: unknown dtype " + dt)
}

// halfToFloat32 converts IEEE 754 binary16 to float32, exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
