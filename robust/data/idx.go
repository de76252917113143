package data

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gorobust/gorobust/robust"
)

// Sentinel errors of the readers. Every error returned by ReadIDX wraps
// exactly one of ErrFormat, ErrTooLarge or robust.ErrConfig, or is an I/O
// error of the underlying reader.
var (
	// ErrFormat reports a file that is not a well-formed IDX file: bad magic,
	// unsupported type, zero dimensions, truncated or trailing data, or a
	// corrupt gzip stream.
	ErrFormat = errors.New("data: invalid idx file")
	// ErrTooLarge reports a header that declares more dimensions, a larger
	// dimension or more elements than the IDXOptions limits allow.
	ErrTooLarge = errors.New("data: idx file exceeds a limit")
)

// Default limits of ReadIDX. They are generous for image datasets (MNIST
// training images are 60000 x 28 x 28 = 47,040,000 elements) while bounding
// what a hostile header can make the reader do.
const (
	// DefaultMaxDims is the default largest number of dimensions.
	DefaultMaxDims = 4
	// DefaultMaxDimSize is the default largest size of one dimension.
	DefaultMaxDimSize = 1 << 24
	// DefaultMaxElements is the default largest product of all dimensions,
	// that is the largest number of data bytes (256 MiB).
	DefaultMaxElements = 1 << 28
)

// typeUint8 is the IDX type code of unsigned bytes, the only element type
// this package decodes.
const typeUint8 = 0x08

// gzipID1 and gzipID2 start every gzip stream (RFC 1952, section 2.3.1).
const gzipID1, gzipID2 = 0x1f, 0x8b

// readChunk is the first allocation for the data of an IDX file. Larger
// files grow their buffer as bytes actually arrive, so a header that
// declares many elements cannot make a short file allocate much memory.
const readChunk = 1 << 20

// IDXOptions bounds what ReadIDX accepts. A nil *IDXOptions, or a zero
// field, means the default of that field.
type IDXOptions struct {
	// MaxDims is the largest number of dimensions, at most 255 (the format
	// stores it in one byte). If 0, DefaultMaxDims is used.
	MaxDims int
	// MaxDimSize is the largest size of any one dimension. If 0,
	// DefaultMaxDimSize is used.
	MaxDimSize int
	// MaxElements is the largest product of all dimensions. If 0,
	// DefaultMaxElements is used.
	MaxElements int
}

// limits returns the effective limits, rejecting negative or impossible
// values rather than silently clamping them.
func (o *IDXOptions) limits() (IDXOptions, error) {
	l := IDXOptions{MaxDims: DefaultMaxDims, MaxDimSize: DefaultMaxDimSize, MaxElements: DefaultMaxElements}
	if o == nil {
		return l, nil
	}
	if o.MaxDims < 0 || o.MaxDims > 255 {
		return l, fmt.Errorf("data: IDXOptions.MaxDims must be in [0, 255], got %d: %w", o.MaxDims, robust.ErrConfig)
	}
	if o.MaxDimSize < 0 {
		return l, fmt.Errorf("data: IDXOptions.MaxDimSize must be >= 0, got %d: %w", o.MaxDimSize, robust.ErrConfig)
	}
	if o.MaxElements < 0 {
		return l, fmt.Errorf("data: IDXOptions.MaxElements must be >= 0, got %d: %w", o.MaxElements, robust.ErrConfig)
	}
	if o.MaxDims > 0 {
		l.MaxDims = o.MaxDims
	}
	if o.MaxDimSize > 0 {
		l.MaxDimSize = o.MaxDimSize
	}
	if o.MaxElements > 0 {
		l.MaxElements = o.MaxElements
	}
	return l, nil
}

// IDX is a decoded IDX file of unsigned bytes. When it comes from ReadIDX,
// every dimension is at least 1 and len(Data) is the product of Dims.
type IDX struct {
	// Dims are the sizes of the dimensions, outermost first.
	Dims []int
	// Data holds the elements in row-major order.
	Data []byte
}

// typeName names the IDX element types so that an unsupported file says
// what it holds.
func typeName(t byte) string {
	switch t {
	case 0x08:
		return "unsigned byte"
	case 0x09:
		return "signed byte"
	case 0x0B:
		return "int16"
	case 0x0C:
		return "int32"
	case 0x0D:
		return "float32"
	case 0x0E:
		return "float64"
	}
	return "unknown"
}

// ReadIDX decodes one IDX file from r, raw or gzip-compressed (detected by
// the gzip magic bytes 1f 8b). Only element type 0x08 (unsigned byte) is
// supported. It reads r to its end: data after the declared elements, or
// after the gzip stream, is an error, and so is a gzip checksum mismatch.
//
// The header is checked against opts (nil means the defaults) before any
// data is allocated, and the data buffer grows only as bytes arrive, so a
// hostile header costs at most the size of the file actually read.
func ReadIDX(r io.Reader, opts *IDXOptions) (*IDX, error) {
	lim, err := opts.limits()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, err := br.Peek(2); err == nil && head[0] == gzipID1 && head[1] == gzipID2 {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, readErr("gzip header", err)
		}
		defer zr.Close()
		src = zr
	}

	var magic [4]byte
	if n, err := io.ReadFull(src, magic[:]); err != nil {
		return nil, shortErr("header", 4, n, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("data: bad magic %02x %02x, want 00 00: %w", magic[0], magic[1], ErrFormat)
	}
	if magic[2] != typeUint8 {
		return nil, fmt.Errorf("data: element type 0x%02x (%s) is not supported, want 0x%02x (unsigned byte): %w", magic[2], typeName(magic[2]), typeUint8, ErrFormat)
	}
	ndims := int(magic[3])
	if ndims == 0 {
		return nil, fmt.Errorf("data: header declares 0 dimensions: %w", ErrFormat)
	}
	if ndims > lim.MaxDims {
		return nil, fmt.Errorf("data: %d dimensions, limit %d: %w", ndims, lim.MaxDims, ErrTooLarge)
	}

	raw := make([]byte, 4*ndims)
	if n, err := io.ReadFull(src, raw); err != nil {
		return nil, shortErr("dimensions", len(raw), n, err)
	}
	dims := make([]int, ndims)
	total := 1
	for i := range dims {
		d := uint64(binary.BigEndian.Uint32(raw[4*i:]))
		if d == 0 {
			return nil, fmt.Errorf("data: dimension %d has size 0: %w", i, ErrFormat)
		}
		if d > uint64(lim.MaxDimSize) {
			return nil, fmt.Errorf("data: dimension %d has size %d, limit %d: %w", i, d, lim.MaxDimSize, ErrTooLarge)
		}
		// Dividing instead of multiplying cannot overflow, whatever the
		// header says.
		if uint64(total) > uint64(lim.MaxElements)/d {
			return nil, fmt.Errorf("data: dimensions %v hold more than %d elements: %w", dimsOf(raw), lim.MaxElements, ErrTooLarge)
		}
		total *= int(d)
		dims[i] = int(d)
	}

	buf, err := readData(src, total)
	if err != nil {
		return nil, err
	}
	var extra [1]byte
	switch n, err := io.ReadFull(src, extra[:]); {
	case n > 0:
		return nil, fmt.Errorf("data: trailing data after the %d declared bytes: %w", total, ErrFormat)
	case err == io.ErrUnexpectedEOF:
		// Only gzip can stop short here: its trailer is cut, or a few bytes
		// follow the stream, too few to be told from a cut header.
		return nil, fmt.Errorf("data: gzip stream ends with a truncated trailer or trailing bytes: %w", ErrFormat)
	case err != io.EOF:
		return nil, readErr("after the data", err)
	}
	return &IDX{Dims: dims, Data: buf}, nil
}

// readData reads exactly total bytes, growing its buffer geometrically from
// readChunk so that memory follows the bytes that really arrive.
func readData(src io.Reader, total int) ([]byte, error) {
	buf := make([]byte, min(total, readChunk))
	got := 0
	for {
		n, err := io.ReadFull(src, buf[got:])
		got += n
		if err != nil {
			return nil, shortErr("data", total, got, err)
		}
		if got == total {
			return buf, nil
		}
		next := min(total, 2*len(buf))
		buf = append(buf, make([]byte, next-len(buf))...)
	}
}

// dimsOf decodes all dimensions of a header for error messages, including
// ones that would overflow an int.
func dimsOf(raw []byte) []uint32 {
	out := make([]uint32, len(raw)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return out
}

// shortErr reports a read of what that stopped after got of want bytes.
func shortErr(what string, want, got int, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("data: truncated %s: want %d bytes, got %d: %w", what, want, got, ErrFormat)
	}
	return readErr(what, err)
}

// readErr tells a corrupt gzip stream (a format error) from a failure of
// the underlying reader (which is returned wrapped but not as ErrFormat).
func readErr(what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return fmt.Errorf("data: %s: corrupt gzip stream: %w: %w", what, err, ErrFormat)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("data: truncated %s: %w", what, ErrFormat)
	}
	return fmt.Errorf("data: reading idx %s: %w", what, err)
}

// WriteIDX encodes x as an uncompressed IDX file of unsigned bytes. It
// checks that x has 1 to 255 dimensions, each in [1, 2^32), whose product
// is len(x.Data).
func WriteIDX(w io.Writer, x *IDX) error {
	if x == nil {
		return fmt.Errorf("data: WriteIDX of a nil IDX: %w", robust.ErrShape)
	}
	if len(x.Dims) == 0 || len(x.Dims) > 255 {
		return fmt.Errorf("data: IDX has %d dimensions, want 1 to 255: %w", len(x.Dims), robust.ErrShape)
	}
	head := make([]byte, 4+4*len(x.Dims))
	head[2], head[3] = typeUint8, byte(len(x.Dims))
	total := 1
	for i, d := range x.Dims {
		if d < 1 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("data: IDX dimension %d has size %d, want [1, 2^32): %w", i, d, robust.ErrShape)
		}
		if total > len(x.Data)/d {
			return fmt.Errorf("data: IDX dimensions %v need more than the %d data bytes: %w", x.Dims, len(x.Data), robust.ErrShape)
		}
		total *= d
		binary.BigEndian.PutUint32(head[4+4*i:], uint32(d))
	}
	if total != len(x.Data) {
		return fmt.Errorf("data: IDX dimensions %v hold %d elements, data has %d: %w", x.Dims, total, len(x.Data), robust.ErrShape)
	}
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("data: writing idx header: %w", err)
	}
	if _, err := w.Write(x.Data); err != nil {
		return fmt.Errorf("data: writing idx data: %w", err)
	}
	return nil
}

// ReadImages reads an IDX file of N x H x W unsigned-byte images, the
// layout of MNIST image files. Files with another number of dimensions are
// rejected with robust.ErrShape.
func ReadImages(r io.Reader, opts *IDXOptions) (*IDX, error) {
	x, err := ReadIDX(r, opts)
	if err != nil {
		return nil, err
	}
	if len(x.Dims) != 3 {
		return nil, fmt.Errorf("data: image file has dimensions %v, want N x H x W: %w", x.Dims, robust.ErrShape)
	}
	return x, nil
}

// ReadLabels reads an IDX file of N unsigned-byte labels, the layout of
// MNIST label files. Files with more than one dimension are rejected with
// robust.ErrShape. Label values are checked by New and Load, which know the
// number of classes.
func ReadLabels(r io.Reader, opts *IDXOptions) ([]byte, error) {
	x, err := ReadIDX(r, opts)
	if err != nil {
		return nil, err
	}
	if len(x.Dims) != 1 {
		return nil, fmt.Errorf("data: label file has dimensions %v, want N: %w", x.Dims, robust.ErrShape)
	}
	return x.Data, nil
}
