package nn

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// streamChunk is the read buffer of readParams: the only memory Load and
// Import use beyond the model itself once the header is parsed.
const streamChunk = 1 << 16

// readParams reads the data section of lay.dataSize bytes from r straight
// into the parameters of m, in file order, and checks that nothing follows
// it. Every byte goes to hash too, when it is not nil, so the caller can
// check a digest after the whole section has been read. A value that is not
// finite (after conversion to the model's precision) is reported only after
// the whole section was read and hashed, so that a tampered file is
// reported as such by the digest check the caller makes first; its error
// is returned as nonFinite, the read errors as err.
func readParams(r io.Reader, m *Model, lay layout, hash io.Writer) (nonFinite, err error) {
	order := make([]int, len(lay.entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return int(lay.entries[a].Begin - lay.entries[b].Begin)
	})
	buf := make([]byte, streamChunk)
	var read int64
	err = m.net.Update(func(ws []*tensor.Dense) error {
		for _, i := range order {
			e := lay.entries[i]
			size := int64(dtypeSize(e.Dtype))
			left := e.End - e.Begin
			at := 0 // values of ws[i] written
			for left > 0 {
				n := min(left, streamChunk/size*size)
				got, err := io.ReadFull(r, buf[:n])
				read += int64(got)
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return formatErr("data section has %d bytes, the header needs %d", read, lay.dataSize)
				}
				if err != nil {
					return fmt.Errorf("nn: reading data: %w", err)
				}
				if hash != nil {
					hash.Write(buf[:n])
				}
				if bad := decodeInto(ws[i], at, buf[:n], e.Dtype); bad >= 0 && nonFinite == nil {
					v := valueAt(buf[:n], e.Dtype, bad)
					beyond := ""
					if !math.IsNaN(v) && !math.IsInf(v, 0) {
						beyond = ", beyond float32"
					}
					nonFinite = errorf(robust.ErrNonFinite, "tensor %q value %d is %v%s", e.Name, at+bad, v, beyond)
				}
				at += int(n / size)
				left -= n
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return nil, formatErr("bytes after the %d-byte data section", lay.dataSize)
	case err != io.EOF:
		return nil, fmt.Errorf("nn: reading data: %w", err)
	}
	return nonFinite, nil
}

// decodeInto converts the little-endian values b of dtype dt into dst's
// values from index at on, rounding to dst's precision. It returns the
// index within b of the first value that is not finite after conversion,
// or -1; it converts every value either way.
func decodeInto(dst *tensor.Dense, at int, b []byte, dt string) int {
	switch d := dst.Data().(type) {
	case []float32:
		out := d[at:][:len(b)/dtypeSize(dt)]
		if dt == dtypeF32 {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		} else {
			for i := range out {
				out[i] = float32(valueAt(b, dt, i))
			}
		}
		for i, x := range out {
			if x != x || math.IsInf(float64(x), 0) {
				return i
			}
		}
	case []float64:
		out := d[at:][:len(b)/dtypeSize(dt)]
		for i := range out {
			out[i] = valueAt(b, dt, i)
		}
		for i, x := range out {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return i
			}
		}
	}
	return -1
}

// checkLen refuses, before the model is allocated, a data section that r
// says is not what the header announces: r tells its remaining length
// when it has a Len method, as *bytes.Reader, *bytes.Buffer,
// *strings.Reader and the reader LoadFile uses do.
func checkLen(r io.Reader, want int64) error {
	l, ok := r.(interface{ Len() int })
	if !ok {
		return nil
	}
	switch n := int64(l.Len()); {
	case n < want:
		return formatErr("data section has %d bytes, the header needs %d", n, want)
	case n > want:
		return formatErr("bytes after the %d-byte data section", want)
	}
	return nil
}

// fileReader reads a file of known size and tells what is left of it.
type fileReader struct {
	r    io.Reader
	left int64
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	f.left -= int64(n)
	return n, err
}

func (f *fileReader) Len() int { return int(f.left) }
