package data

import (
	"bytes"
	"testing"
)

// FuzzReadIDX checks that no input makes ReadIDX panic, and that every file
// it accepts is self-consistent and survives a WriteIDX round trip.
func FuzzReadIDX(f *testing.F) {
	valid := idxBytes(typeUint8, []uint32{2, 3, 4}, seq(24))
	for _, seed := range [][]byte{
		valid,
		gz(f, valid),
		idxBytes(typeUint8, []uint32{5}, seq(5)),
		idxBytes(typeUint8, []uint32{1, 1, 1, 1}, seq(1)),
		idxBytes(typeUint8, []uint32{1, 1, 1, 1, 1}, seq(1)), // too many dims
		idxBytes(typeUint8, nil, nil),                        // zero dims
		idxBytes(typeUint8, []uint32{3, 0}, nil),             // empty dimension
		idxBytes(0x0D, []uint32{2}, seq(8)),                  // float32
		idxBytes(typeUint8, []uint32{1 << 16, 1 << 16}, nil), // over the element limit
		idxBytes(typeUint8, []uint32{1 << 14, 1 << 14}, nil), // at the limit, no data
		idxBytes(typeUint8, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil),
		valid[:17],               // truncated data
		append(valid, 0),         // trailing data
		{1, 0, 8, 1, 0, 0, 0, 1}, // bad magic
		{0x1f, 0x8b},             // gzip magic alone
		gz(f, valid)[:20],        // truncated gzip
		append(gz(f, valid), gz(f, []byte{7})...), // gzip member of trailing data
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := ReadIDX(bytes.NewReader(in), nil)
		if err != nil {
			if x != nil {
				t.Fatalf("partial result %v with error %v", x.Dims, err)
			}
			return
		}
		if len(x.Dims) < 1 || len(x.Dims) > DefaultMaxDims {
			t.Fatalf("accepted %d dimensions", len(x.Dims))
		}
		total := 1
		for _, d := range x.Dims {
			if d < 1 || d > DefaultMaxDimSize {
				t.Fatalf("accepted dimension size %d in %v", d, x.Dims)
			}
			total *= d
			if total > DefaultMaxElements {
				t.Fatalf("accepted %v, more than %d elements", x.Dims, DefaultMaxElements)
			}
		}
		if len(x.Data) != total {
			t.Fatalf("dims %v hold %d elements, data has %d", x.Dims, total, len(x.Data))
		}
		var buf bytes.Buffer
		if err := WriteIDX(&buf, x); err != nil {
			t.Fatalf("WriteIDX of an accepted file: %v", err)
		}
		y, err := ReadIDX(&buf, nil)
		if err != nil || !bytes.Equal(y.Data, x.Data) || len(y.Dims) != len(x.Dims) {
			t.Fatalf("round trip failed: %v", err)
		}
		for i := range x.Dims {
			if x.Dims[i] != y.Dims[i] {
				t.Fatalf("round trip dims %v, want %v", y.Dims, x.Dims)
			}
		}
	})
}
