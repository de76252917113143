package mnist

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/gorobust/gorobust/robust/data"
)

// TestEmbeddedSHA256 hashes every embedded file independently of the
// package's own reading code and compares it with the published digests.
func TestEmbeddedSHA256(t *testing.T) {
	for name, want := range map[string]string{
		"train-images-idx3-ubyte.gz": trainImagesSHA256,
		"train-labels-idx1-ubyte.gz": trainLabelsSHA256,
		"t10k-images-idx3-ubyte.gz":  testImagesSHA256,
		"t10k-labels-idx1-ubyte.gz":  testLabelsSHA256,
	} {
		f, err := FS().Open(name)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, zr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s: SHA-256 %s, want %s", name, got, want)
		}
		f.Close()
	}
	if err := Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestHashedFileDetectsMismatch(t *testing.T) {
	f, err := open(digests()[3].name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
	if err := f.check(trainLabelsSHA256); !errors.Is(err, ErrChecksum) {
		t.Errorf("check against the wrong digest: error %v, want ErrChecksum", err)
	}
}

func TestSets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		get      func() (*data.Dataset, error)
		n        int
		min, max int // bounds on every class count
	}{
		// MNIST's training classes range from 5421 (digit 5) to 6742
		// (digit 1) examples; its test classes from 892 to 1135.
		{"train", Train, trainLen, 5000, 7000},
		{"test", Test, testLen, 800, 1200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := tc.get()
			if err != nil {
				t.Fatal(err)
			}
			if c, h, w := ds.Shape(); ds.Len() != tc.n || c != 1 || h != 28 || w != 28 || ds.NumClasses() != 10 {
				t.Fatalf("%d x %d x %d x %d with %d classes, want %d x 1 x 28 x 28 with 10", ds.Len(), c, h, w, ds.NumClasses(), tc.n)
			}
			counts := ds.ClassCounts()
			total := 0
			for k, c := range counts {
				total += c
				if c < tc.min || c > tc.max {
					t.Errorf("class %d has %d examples, want [%d, %d]", k, c, tc.min, tc.max)
				}
			}
			if total != tc.n {
				t.Errorf("class counts sum to %d, want %d", total, tc.n)
			}
			x, y, err := ds.Batch([]int{0, tc.n - 1})
			if err != nil {
				t.Fatal(err)
			}
			// Every MNIST image has ink (values near 1) and background (0).
			vals := x.Data().([]float32)
			for i := range 2 {
				lo, hi := float32(1), float32(0)
				for _, v := range vals[i*784 : (i+1)*784] {
					lo, hi = min(lo, v), max(hi, v)
				}
				if lo != 0 || hi < 0.9 || hi > 1 {
					t.Errorf("image %d spans [%v, %v], want 0 to about 1", i, lo, hi)
				}
			}
			if y[0] < 0 || y[0] > 9 || y[1] < 0 || y[1] > 9 {
				t.Errorf("labels %v outside 0..9", y)
			}
		})
	}
}

// TestKnownLabels pins the first labels of each set, which every MNIST
// reader reproduces (train starts 5 0 4 1 9, test starts 7 2 1 0 4).
func TestKnownLabels(t *testing.T) {
	tr, err := Train()
	if err != nil {
		t.Fatal(err)
	}
	te, err := Test()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ds   *data.Dataset
		want []int
	}{{tr, []int{5, 0, 4, 1, 9}}, {te, []int{7, 2, 1, 0, 4}}} {
		_, y, err := tc.ds.Batch([]int{0, 1, 2, 3, 4})
		if err != nil {
			t.Fatal(err)
		}
		for i := range y {
			if y[i] != tc.want[i] {
				t.Fatalf("first labels %v, want %v", y, tc.want)
			}
		}
	}
}

// TestCached checks that concurrent first calls share one decoded set.
func TestCached(t *testing.T) {
	var wg sync.WaitGroup
	got := make([]*data.Dataset, 4)
	for i := range got {
		wg.Go(func() {
			ds, err := Test()
			if err != nil {
				t.Error(err)
			}
			got[i] = ds
		})
	}
	wg.Wait()
	for _, ds := range got[1:] {
		if ds != got[0] {
			t.Fatal("Test returned different Datasets")
		}
	}
}
