package data

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gorobust/gorobust/internal/tensors"
	"github.com/gorobust/gorobust/robust"
)

func TestNewValidation(t *testing.T) {
	pix := seq(2 * 1 * 2 * 2)
	for _, tc := range []struct {
		name          string
		pix           []byte
		n, c, h, w, k int
		labels        []int
		is            error
	}{
		{"zero n", nil, 0, 1, 2, 2, 10, nil, robust.ErrShape},
		{"negative h", pix, 2, 1, -2, 2, 10, []int{0, 1}, robust.ErrShape},
		{"short pixels", pix[:7], 2, 1, 2, 2, 10, []int{0, 1}, robust.ErrShape},
		{"long pixels", append(slices.Clone(pix), 0), 2, 1, 2, 2, 10, []int{0, 1}, robust.ErrShape},
		{"overflowing shape", pix, math.MaxInt / 2, 1, 2, 2, 10, []int{0, 1}, robust.ErrShape},
		{"too few labels", pix, 2, 1, 2, 2, 10, []int{0}, robust.ErrShape},
		{"too many labels", pix, 2, 1, 2, 2, 10, []int{0, 1, 2}, robust.ErrShape},
		{"one class", pix, 2, 1, 2, 2, 1, []int{0, 0}, robust.ErrConfig},
		{"label = k", pix, 2, 1, 2, 2, 10, []int{0, 10}, robust.ErrLabel},
		{"negative label", pix, 2, 1, 2, 2, 10, []int{-1, 0}, robust.ErrLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := New(tc.pix, tc.n, tc.c, tc.h, tc.w, tc.labels, tc.k)
			if !errors.Is(err, tc.is) || ds != nil {
				t.Fatalf("New = %v, %v; want nil and an error wrapping %v", ds, err, tc.is)
			}
		})
	}
}

func TestNewCopiesInputs(t *testing.T) {
	pix := []byte{0, 255, 51, 102}
	labels := []int{1, 0}
	ds, err := New(pix, 2, 1, 1, 2, labels, 2)
	if err != nil {
		t.Fatal(err)
	}
	pix[0], labels[0] = 9, 0
	x, y, err := ds.Batch([]int{0})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Data().([]float32); got[0] != 0 || got[1] != 1 || y[0] != 1 {
		t.Fatalf("Batch after the caller changed its slices: %v %v; New did not copy", got, y)
	}
}

func TestBatchScaling(t *testing.T) {
	// The bytes that test the ends of the range, the middle and a value
	// (51) whose quotient 0.2 is not exact in binary.
	pix := []byte{0, 1, 51, 127, 128, 254, 255, 200}
	ds, err := New(pix, 2, 1, 2, 2, []int{3, 7}, 10)
	if err != nil {
		t.Fatal(err)
	}
	x, y, err := ds.Batch([]int{1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := x.Shape(), []int{3, 1, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("shape %v, want %v", got, want)
	}
	if !slices.Equal(y, []int{7, 3, 7}) {
		t.Errorf("labels %v, want [7 3 7]", y)
	}
	got := x.Data().([]float32)
	order := append(append(slices.Clone(pix[4:]), pix[:4]...), pix[4:]...)
	for i, v := range got {
		if want := float32(order[i]) / 255; v != want {
			t.Errorf("value %d = %v, want %v", i, v, want)
		}
		if v < 0 || v > 1 {
			t.Errorf("value %d = %v outside [0, 1]", i, v)
		}
	}
	if got[4] != 0 || got[2] != 1 {
		t.Errorf("bytes 0 and 255 map to %v and %v, want exactly 0 and 1", got[4], got[2])
	}
	// The batch is fresh memory: writing to it leaves the dataset alone.
	got[0] = 42
	x2, _, _ := ds.Batch([]int{1})
	if x2.Data().([]float32)[0] != float32(128)/255 {
		t.Error("writing to a returned batch changed the dataset")
	}
	if _, _, err := tensors.CheckImages(x, robust.UnitBounds); err == nil {
		t.Error("CheckImages accepted the value 42 written into the batch")
	}
	if _, _, err := tensors.CheckImages(x2, robust.UnitBounds); err != nil {
		t.Errorf("a fresh batch fails robust.CheckImages: %v", err)
	}
}

func TestBatchErrors(t *testing.T) {
	ds := mustTiny(t, 5, 3)
	for _, tc := range []struct {
		idx []int
		is  error
	}{
		{nil, robust.ErrShape},
		{[]int{}, robust.ErrShape},
		{[]int{0, 5}, ErrIndex},
		{[]int{-1}, ErrIndex},
		{[]int{math.MaxInt}, ErrIndex},
	} {
		x, y, err := ds.Batch(tc.idx)
		if !errors.Is(err, tc.is) || x != nil || y != nil {
			t.Errorf("Batch(%v) = %v, %v, %v; want an error wrapping %v", tc.idx, x, y, err, tc.is)
		}
	}
}

func TestAccessors(t *testing.T) {
	ds := mustTiny(t, 7, 3)
	if ds.Len() != 7 || ds.NumClasses() != 3 {
		t.Fatalf("Len %d NumClasses %d, want 7 and 3", ds.Len(), ds.NumClasses())
	}
	if c, h, w := ds.Shape(); c != 1 || h != 2 || w != 3 {
		t.Errorf("Shape %d %d %d, want 1 2 3", c, h, w)
	}
	if got := ds.Labels(); !slices.Equal(got, []int{0, 1, 2, 0, 1, 2, 0}) {
		t.Errorf("Labels %v", got)
	}
	if got := ds.ClassCounts(); !slices.Equal(got, []int{3, 2, 2}) {
		t.Errorf("ClassCounts %v, want [3 2 2]", got)
	}
	if l, err := ds.Label(5); l != 2 || err != nil {
		t.Errorf("Label(5) = %d, %v", l, err)
	}
	img, err := ds.Image(2)
	if err != nil || !bytes.Equal(img, []byte{12, 13, 14, 15, 16, 17}) {
		t.Errorf("Image(2) = %v, %v", img, err)
	}
	img[0] = 99
	if again, _ := ds.Image(2); again[0] != 12 {
		t.Error("writing to Image's result changed the dataset")
	}
	ls := ds.Labels()
	ls[0] = 2
	if l, _ := ds.Label(0); l != 0 {
		t.Error("writing to Labels' result changed the dataset")
	}
	for _, i := range []int{-1, 7} {
		if _, err := ds.Label(i); !errors.Is(err, ErrIndex) {
			t.Errorf("Label(%d): error %v, want ErrIndex", i, err)
		}
		if _, err := ds.Image(i); !errors.Is(err, ErrIndex) {
			t.Errorf("Image(%d): error %v, want ErrIndex", i, err)
		}
	}
}

// TestBatchConcurrent is meaningful under -race: Batch on a dataset and its
// views from many goroutines at once.
func TestBatchConcurrent(t *testing.T) {
	ds := mustTiny(t, 40, 4)
	rest, held, err := Split(ds, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for _, d := range []*Dataset{ds, rest, held} {
				idx := []int{g % d.Len(), (3 * g) % d.Len()}
				x, y, err := d.Batch(idx)
				if err != nil {
					t.Error(err)
					return
				}
				for j, i := range idx {
					img, _ := d.Image(i)
					l, _ := d.Label(i)
					if y[j] != l || x.Data().([]float32)[6*j] != float32(img[0])/255 {
						t.Errorf("goroutine %d: example %d differs from Image/Label", g, i)
					}
				}
			}
		})
	}
	wg.Wait()
}
