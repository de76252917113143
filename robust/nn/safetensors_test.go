package nn

import (
	"bytes"
	"io"
	"testing"
)

// TestReadAtMost checks that reads stop at exactly n bytes, across the
// buffer growth steps.
func TestReadAtMost(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1 << 16, 1<<16 + 1, 100000, 1 << 20, 3<<20 + 7} {
		src := make([]byte, n+5)
		for i := range src {
			src[i] = byte(i * 7)
		}
		r := bytes.NewReader(src)
		got, err := readAtMost(r, n)
		if err != nil || !bytes.Equal(got, src[:n]) || r.Len() != 5 {
			t.Errorf("n = %d: read %d bytes, left %d, err %v", n, len(got), r.Len(), err)
		}
	}
	if _, err := readAtMost(iotestErr{}, 10); err == nil {
		t.Error("a read error was lost")
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestHalfToFloat32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)},
		{0x03ff, 1023.0 / (1 << 24)}, {0x0400, 1.0 / (1 << 14)}, {0x3555, 0.333251953125}, {0x8001, -1.0 / (1 << 24)},
	} {
		if got := halfToFloat32(c.h); got != c.want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if v := halfToFloat32(0x7c00); v <= 65504 || v != v+1 {
		t.Errorf("0x7c00 = %v, want +Inf", v)
	}
	if v := halfToFloat32(0x7e00); v == v {
		t.Errorf("0x7e00 = %v, want NaN", v)
	}
}
