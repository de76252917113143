package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"
)

// idxBytes builds an IDX file by hand (not with WriteIDX) so that tests can
// express any header, including invalid ones.
func idxBytes(typ byte, dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

// seq returns n bytes 0, 1, 2, ... (mod 256), a payload whose every
// position is recognisable.
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// gz compresses b deterministically.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tinySet returns the IDX image and label files of n images of 2 x 3
// pixels whose labels cycle through 0..k-1; image i holds bytes
// 6i .. 6i+5 (mod 256) so that every example is recognisable.
func tinySet(n, k int) (images, labels []byte) {
	lab := make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % k)
	}
	return idxBytes(typeUint8, []uint32{uint32(n), 2, 3}, seq(6*n)),
		idxBytes(typeUint8, []uint32{uint32(n)}, lab)
}

// mustTiny loads tinySet(n, k) with k classes.
func mustTiny(t testing.TB, n, k int) *Dataset {
	t.Helper()
	img, lab := tinySet(n, k)
	ds, err := Load(bytes.NewReader(img), bytes.NewReader(lab), &LoadOptions{NumClasses: k})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
