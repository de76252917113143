package data

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// ErrIndex reports an example index outside [0, Len()).
var ErrIndex = errors.New("data: index out of range")

// Dataset is an immutable set of labelled unsigned-byte images of one shape
// C x H x W. It serves them as float32 batches scaled to [0, 1].
//
// A Dataset never changes after construction and every method returns fresh
// memory, so one Dataset may be shared by any number of goroutines, and
// views made by Subset and Split share its pixels safely.
type Dataset struct {
	// pix holds the images of the base set, row-major N x C x H x W. It is
	// shared between a set and its views and never written after New.
	pix []byte
	// labels are the classes of the base set, in [0, classes).
	labels []int
	// index maps an example of this view to a row of pix and labels; nil
	// means the identity over the whole base set.
	index []int
	// c, h, w is the shape of one image; classes is the number of classes.
	c, h, w, classes int
}

var _ robust.Dataset = (*Dataset)(nil)

// New returns a Dataset of n images of c x h x w bytes stored row-major in
// images (len(images) must be n*c*h*w) with one label in [0, numClasses)
// per image. numClasses must be at least 2. New copies images and labels, so
// the caller may reuse them.
func New(images []byte, n, c, h, w int, labels []int, numClasses int) (*Dataset, error) {
	if err := checkLayout(len(images), n, c, h, w, len(labels), numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(len(labels), numClasses, func(i int) int { return labels[i] }); err != nil {
		return nil, err
	}
	return &Dataset{
		pix:     append([]byte(nil), images...),
		labels:  append([]int(nil), labels...),
		c:       c,
		h:       h,
		w:       w,
		classes: numClasses,
	}, nil
}

// newOwned is New for byte labels, taking ownership of images instead of
// copying them; the readers use it to avoid a second copy of large files.
func newOwned(images []byte, n, c, h, w int, labels []byte, numClasses int) (*Dataset, error) {
	if err := checkLayout(len(images), n, c, h, w, len(labels), numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(len(labels), numClasses, func(i int) int { return int(labels[i]) }); err != nil {
		return nil, err
	}
	ls := make([]int, len(labels))
	for i, l := range labels {
		ls[i] = int(l)
	}
	return &Dataset{pix: images, labels: ls, c: c, h: h, w: w, classes: numClasses}, nil
}

// checkLayout validates the sizes given to New, guarding n*c*h*w against
// overflow.
func checkLayout(npix, n, c, h, w, nlabels, numClasses int) error {
	if n < 1 || c < 1 || h < 1 || w < 1 {
		return fmt.Errorf("data: dataset shape %d x %d x %d x %d, want every size >= 1: %w", n, c, h, w, robust.ErrShape)
	}
	total := 1
	for _, d := range []int{n, c, h, w} {
		if total > math.MaxInt/d {
			return fmt.Errorf("data: dataset shape %d x %d x %d x %d overflows int: %w", n, c, h, w, robust.ErrShape)
		}
		total *= d
	}
	if npix != total {
		return fmt.Errorf("data: %d image bytes for shape %d x %d x %d x %d, want %d: %w", npix, n, c, h, w, total, robust.ErrShape)
	}
	if nlabels != n {
		return fmt.Errorf("data: %d labels for %d images: %w", nlabels, n, robust.ErrShape)
	}
	if numClasses < 2 {
		return fmt.Errorf("data: numClasses must be >= 2, got %d: %w", numClasses, robust.ErrConfig)
	}
	return nil
}

// checkLabels reports the first label outside [0, numClasses).
func checkLabels(n, numClasses int, at func(int) int) error {
	for i := range n {
		if l := at(i); l < 0 || l >= numClasses {
			return fmt.Errorf("data: label %d of example %d, want [0, %d): %w", l, i, numClasses, robust.ErrLabel)
		}
	}
	return nil
}

// Len is the number of examples.
func (d *Dataset) Len() int {
	if d.index != nil {
		return len(d.index)
	}
	return len(d.labels)
}

// NumClasses is the number of classes K; every label is in [0, K).
func (d *Dataset) NumClasses() int { return d.classes }

// Shape is the shape of one image: channels, height and width.
func (d *Dataset) Shape() (c, h, w int) { return d.c, d.h, d.w }

// row maps example i of this view to its row in the base set.
func (d *Dataset) row(i int) int {
	if d.index != nil {
		return d.index[i]
	}
	return i
}

// checkIndices reports the first index outside [0, Len()) and an empty
// list, naming the caller in the message.
func (d *Dataset) checkIndices(caller string, idx []int) error {
	if len(idx) == 0 {
		return fmt.Errorf("data: %s of no examples: %w", caller, robust.ErrShape)
	}
	n := d.Len()
	for j, i := range idx {
		if i < 0 || i >= n {
			return fmt.Errorf("data: %s index %d at position %d, want [0, %d): %w", caller, i, j, n, ErrIndex)
		}
	}
	return nil
}

// Batch returns the examples at idx as a new float32 len(idx) x C x H x W
// tensor whose values are the pixel bytes divided by 255, so they lie in
// [0, 1], and their labels. Indices may repeat. It returns an error wrapping
// robust.ErrShape for an empty idx and ErrIndex for an index outside
// [0, Len()).
func (d *Dataset) Batch(idx []int) (*tensor.Dense, []int, error) {
	if err := d.checkIndices("Batch", idx); err != nil {
		return nil, nil, err
	}
	size := d.c * d.h * d.w
	if len(idx) > math.MaxInt/size {
		return nil, nil, fmt.Errorf("data: batch of %d images of %d values overflows int: %w", len(idx), size, robust.ErrShape)
	}
	x := make([]float32, len(idx)*size)
	y := make([]int, len(idx))
	for j, i := range idx {
		r := d.row(i)
		dst := x[j*size : (j+1)*size]
		for p, v := range d.pix[r*size : (r+1)*size] {
			// Division, not multiplication by 1/255, so that 255 maps to
			// exactly 1 and every value is the correctly rounded v/255.
			dst[p] = float32(v) / 255
		}
		y[j] = d.labels[r]
	}
	return tensor.New(tensor.WithShape(len(idx), d.c, d.h, d.w), tensor.WithBacking(x)), y, nil
}

// Label returns the label of example i.
func (d *Dataset) Label(i int) (int, error) {
	if i < 0 || i >= d.Len() {
		return 0, fmt.Errorf("data: Label index %d, want [0, %d): %w", i, d.Len(), ErrIndex)
	}
	return d.labels[d.row(i)], nil
}

// Labels returns a new slice with the label of every example, in order.
func (d *Dataset) Labels() []int {
	out := make([]int, d.Len())
	for i := range out {
		out[i] = d.labels[d.row(i)]
	}
	return out
}

// Image returns a copy of the raw C x H x W bytes of example i.
func (d *Dataset) Image(i int) ([]byte, error) {
	if i < 0 || i >= d.Len() {
		return nil, fmt.Errorf("data: Image index %d, want [0, %d): %w", i, d.Len(), ErrIndex)
	}
	size := d.c * d.h * d.w
	r := d.row(i)
	return append([]byte(nil), d.pix[r*size:(r+1)*size]...), nil
}

// ClassCounts returns the number of examples of each class.
func (d *Dataset) ClassCounts() []int {
	out := make([]int, d.classes)
	for i := range d.Len() {
		out[d.labels[d.row(i)]]++
	}
	return out
}
