package data

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gorobust/gorobust/robust"
)

func TestReadIDXValid(t *testing.T) {
	img := idxBytes(typeUint8, []uint32{2, 3, 4}, seq(24))
	for _, tc := range []struct {
		name string
		in   []byte
		dims []int
		data []byte
	}{
		{"raw 3d", img, []int{2, 3, 4}, seq(24)},
		{"gzip 3d", gz(t, img), []int{2, 3, 4}, seq(24)},
		{"raw 1d", idxBytes(typeUint8, []uint32{5}, seq(5)), []int{5}, seq(5)},
		{"gzip 4d", gz(t, idxBytes(typeUint8, []uint32{1, 2, 1, 3}, seq(6))), []int{1, 2, 1, 3}, seq(6)},
		// Two gzip members concatenated form one valid stream (RFC 1952).
		{"gzip multistream", append(gz(t, img[:10]), gz(t, img[10:])...), []int{2, 3, 4}, seq(24)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := ReadIDX(bytes.NewReader(tc.in), nil)
			if err != nil {
				t.Fatalf("ReadIDX: %v", err)
			}
			if !slices.Equal(x.Dims, tc.dims) || !bytes.Equal(x.Data, tc.data) {
				t.Fatalf("got dims %v data %v, want %v %v", x.Dims, x.Data, tc.dims, tc.data)
			}
		})
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(typeUint8, []uint32{3, 4}, seq(12))
	goodGz := gz(t, good)
	flipped := func(b []byte, i int) []byte {
		c := slices.Clone(b)
		c[i] ^= 0xff
		return c
	}
	for _, tc := range []struct {
		name string
		in   []byte
		opts *IDXOptions
		is   error
		msg  string // a substring the message must contain
	}{
		{"empty", nil, nil, ErrFormat, "truncated header"},
		{"short header", []byte{0, 0, 8}, nil, ErrFormat, "truncated header: want 4 bytes, got 3"},
		{"bad magic", append([]byte{1, 0}, good[2:]...), nil, ErrFormat, "bad magic 01 00"},
		{"bad magic byte 2", append([]byte{0, 7}, good[2:]...), nil, ErrFormat, "bad magic 00 07"},
		{"float type", idxBytes(0x0D, []uint32{3}, make([]byte, 12)), nil, ErrFormat, "0x0d (float32) is not supported"},
		{"unknown type", idxBytes(0x42, []uint32{3}, seq(3)), nil, ErrFormat, "0x42 (unknown)"},
		{"zero dims", idxBytes(typeUint8, nil, nil), nil, ErrFormat, "0 dimensions"},
		{"too many dims", idxBytes(typeUint8, []uint32{1, 1, 1, 1, 1}, seq(1)), nil, ErrTooLarge, "5 dimensions, limit 4"},
		{"too many dims custom", good, &IDXOptions{MaxDims: 1}, ErrTooLarge, "2 dimensions, limit 1"},
		{"zero size dim", idxBytes(typeUint8, []uint32{3, 0}, nil), nil, ErrFormat, "dimension 1 has size 0"},
		{"oversized dim", idxBytes(typeUint8, []uint32{1 << 25}, nil), nil, ErrTooLarge, "dimension 0 has size 33554432, limit 16777216"},
		{"max uint32 dim", idxBytes(typeUint8, []uint32{math.MaxUint32}, nil), nil, ErrTooLarge, "size 4294967295"},
		{"product over limit", idxBytes(typeUint8, []uint32{1 << 16, 1 << 16}, nil), nil, ErrTooLarge, "more than 268435456 elements"},
		{"custom element limit", good, &IDXOptions{MaxElements: 11}, ErrTooLarge, "more than 11 elements"},
		// With every limit lifted, only the overflow-safe product check
		// stands between these sizes and a wrapped int.
		{"overflowing product", idxBytes(typeUint8, []uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32}, nil),
			&IDXOptions{MaxDimSize: math.MaxInt, MaxElements: math.MaxInt}, ErrTooLarge, "[4294967295 4294967295 4294967295 4294967295]"},
		{"truncated dims", good[:9], nil, ErrFormat, "truncated dimensions: want 8 bytes, got 5"},
		{"truncated data", good[:17], nil, ErrFormat, "truncated data: want 12 bytes, got 5"},
		{"no data", good[:12], nil, ErrFormat, "truncated data: want 12 bytes, got 0"},
		{"trailing data", append(slices.Clone(good), 0), nil, ErrFormat, "trailing data after the 12 declared bytes"},
		{"gzip trailing data inside", gz(t, append(slices.Clone(good), 1, 2)), nil, ErrFormat, "trailing data"},
		{"gzip short garbage after stream", append(slices.Clone(goodGz), 0, 0, 0), nil, ErrFormat, "trailing bytes"},
		{"gzip garbage after stream", append(slices.Clone(goodGz), seq(40)...), nil, ErrFormat, "after the data: corrupt gzip stream"},
		{"gzip cut trailer", goodGz[:len(goodGz)-3], nil, ErrFormat, "truncated trailer"},
		{"gzip truncated", goodGz[:len(goodGz)-10], nil, ErrFormat, "truncated"},
		{"gzip truncated header", goodGz[:5], nil, ErrFormat, "truncated gzip header"},
		{"gzip bad crc", flipped(goodGz, len(goodGz)-6), nil, ErrFormat, "checksum"},
		{"gzip corrupt body", flipped(goodGz, 12), nil, ErrFormat, "gzip"},
		{"gzip of truncated file", gz(t, good[:15]), nil, ErrFormat, "truncated data: want 12 bytes, got 3"},
		{"gzip of bad magic", gz(t, append([]byte{9, 9}, good[2:]...)), nil, ErrFormat, "bad magic 09 09"},
		{"negative option", good, &IDXOptions{MaxElements: -1}, robust.ErrConfig, "MaxElements"},
		{"dims option above format", good, &IDXOptions{MaxDims: 256}, robust.ErrConfig, "MaxDims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := ReadIDX(bytes.NewReader(tc.in), tc.opts)
			if err == nil {
				t.Fatalf("ReadIDX succeeded with dims %v, want an error", x.Dims)
			}
			t.Log(err)
			if x != nil {
				t.Errorf("ReadIDX returned a partial result %v with error %v", x.Dims, err)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %q", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestReadIDXReaderFailure(t *testing.T) {
	good := idxBytes(typeUint8, []uint32{3, 4}, seq(12))
	boom := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(good[:14]), iotest.ErrReader(boom))
	_, err := ReadIDX(r, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the reader's error", err)
	}
	if errors.Is(err, ErrFormat) {
		t.Errorf("an I/O failure %q is reported as a format error", err)
	}
}

// TestReadIDXOneByteReads checks that the reader copes with a source that
// returns one byte per Read, the worst legal io.Reader.
func TestReadIDXOneByteReads(t *testing.T) {
	in := idxBytes(typeUint8, []uint32{7, 5}, seq(35))
	for _, src := range [][]byte{in, gz(t, in)} {
		x, err := ReadIDX(iotest.OneByteReader(bytes.NewReader(src)), nil)
		if err != nil || !bytes.Equal(x.Data, seq(35)) {
			t.Fatalf("ReadIDX = %v, %v", x, err)
		}
	}
}

// TestReadIDXLargeFile crosses the readChunk boundary several times so the
// growing buffer is exercised, with and without truncation.
func TestReadIDXLargeFile(t *testing.T) {
	const n = 3*readChunk + 12345 // not a multiple of any buffer size
	in := idxBytes(typeUint8, []uint32{n}, seq(n))
	x, err := ReadIDX(bytes.NewReader(in), nil)
	if err != nil || !bytes.Equal(x.Data, seq(n)) {
		t.Fatalf("ReadIDX of %d bytes: err %v", n, err)
	}
	_, err = ReadIDX(bytes.NewReader(in[:len(in)-1]), nil)
	if want := "want 3158073 bytes, got 3158072"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("truncated large file: error %v, want %q", err, want)
	}
}

// TestReadIDXHostileHeaderAllocation checks that a header declaring the
// maximum number of elements, followed by almost no data, does not make the
// reader allocate anywhere near that much.
func TestReadIDXHostileHeaderAllocation(t *testing.T) {
	in := idxBytes(typeUint8, []uint32{1 << 14, 1 << 14}, seq(10)) // declares 2^28 bytes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadIDX(bytes.NewReader(in), nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("error %v, want truncated data", err)
	}
	// readChunk plus the bufio buffer and small change; 2^28 would be 256 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("reading a 30-byte file allocated %d bytes", got)
	}
}

func TestReadImagesLabels(t *testing.T) {
	img := idxBytes(typeUint8, []uint32{2, 2, 2}, seq(8))
	lab := idxBytes(typeUint8, []uint32{2}, []byte{1, 0})
	if x, err := ReadImages(bytes.NewReader(img), nil); err != nil || !slices.Equal(x.Dims, []int{2, 2, 2}) {
		t.Errorf("ReadImages = %v, %v", x, err)
	}
	if l, err := ReadLabels(bytes.NewReader(lab), nil); err != nil || !bytes.Equal(l, []byte{1, 0}) {
		t.Errorf("ReadLabels = %v, %v", l, err)
	}
	if _, err := ReadImages(bytes.NewReader(lab), nil); !errors.Is(err, robust.ErrShape) {
		t.Errorf("ReadImages of a label file: error %v, want ErrShape", err)
	}
	if _, err := ReadLabels(bytes.NewReader(img), nil); !errors.Is(err, robust.ErrShape) {
		t.Errorf("ReadLabels of an image file: error %v, want ErrShape", err)
	}
}

func TestWriteIDX(t *testing.T) {
	var buf bytes.Buffer
	x := &IDX{Dims: []int{2, 3}, Data: seq(6)}
	if err := WriteIDX(&buf, x); err != nil {
		t.Fatal(err)
	}
	if want := idxBytes(typeUint8, []uint32{2, 3}, seq(6)); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteIDX wrote %v, want %v", buf.Bytes(), want)
	}
	for _, bad := range []*IDX{
		nil,
		{Dims: nil, Data: nil},
		{Dims: []int{2, 3}, Data: seq(5)},
		{Dims: []int{2, 0}, Data: nil},
		{Dims: []int{-1}, Data: nil},
		{Dims: []int{1 << 40, 1 << 40}, Data: seq(4)},
	} {
		if err := WriteIDX(io.Discard, bad); !errors.Is(err, robust.ErrShape) {
			t.Errorf("WriteIDX(%v): error %v, want ErrShape", bad, err)
		}
	}
}
