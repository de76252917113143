package data

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gorobust/gorobust/robust"
)

func TestLoad(t *testing.T) {
	img, lab := tinySet(4, 3)
	for _, tc := range []struct {
		name     string
		img, lab []byte
	}{
		{"raw", img, lab},
		{"gzip", gz(t, img), gz(t, lab)},
		{"mixed", img, gz(t, lab)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Load(bytes.NewReader(tc.img), bytes.NewReader(tc.lab), &LoadOptions{NumClasses: 3})
			if err != nil {
				t.Fatal(err)
			}
			if c, h, w := ds.Shape(); ds.Len() != 4 || c != 1 || h != 2 || w != 3 {
				t.Fatalf("Len %d Shape %d %d %d, want 4 x 1 x 2 x 3", ds.Len(), c, h, w)
			}
			if got := ds.Labels(); !slices.Equal(got, []int{0, 1, 2, 0}) {
				t.Errorf("labels %v", got)
			}
			if im, _ := ds.Image(3); !bytes.Equal(im, seq(24)[18:]) {
				t.Errorf("image 3 = %v", im)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	img, lab := tinySet(4, 10)
	_, lab3 := tinySet(3, 10)
	for _, tc := range []struct {
		name     string
		img, lab []byte
		opts     *LoadOptions
		is       error
		msg      string
	}{
		{"count mismatch", img, lab3, nil, robust.ErrShape, "4 images but label file holds 3 labels"},
		{"label out of range", img, lab, &LoadOptions{NumClasses: 3}, robust.ErrLabel, "label 3 of example 3, want [0, 3)"},
		{"label 10 of 10", img, idxBytes(typeUint8, []uint32{4}, []byte{0, 9, 10, 1}), nil, robust.ErrLabel, "label 10 of example 2"},
		{"labels as images", lab, lab, nil, robust.ErrShape, "images: "},
		{"images as labels", img, img, nil, robust.ErrShape, "labels: "},
		{"corrupt labels", img, lab[:len(lab)-1], nil, ErrFormat, "labels: data: truncated data: want 4 bytes, got 3: data: invalid idx file"},
		{"corrupt images", append([]byte{1}, img[1:]...), lab, nil, ErrFormat, "images: data: bad magic 01 00, want 00 00: data: invalid idx file"},
		{"limits apply", img, lab, &LoadOptions{Limits: IDXOptions{MaxElements: 10}}, ErrTooLarge, "images: "},
		{"one class", img, lab, &LoadOptions{NumClasses: 1}, robust.ErrConfig, "NumClasses"},
		{"too many classes", img, lab, &LoadOptions{NumClasses: 257}, robust.ErrConfig, "NumClasses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Load(bytes.NewReader(tc.img), bytes.NewReader(tc.lab), tc.opts)
			if !errors.Is(err, tc.is) || ds != nil {
				t.Fatalf("Load = %v, %v; want an error wrapping %v", ds, err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

// writeDir writes files into a new temporary directory.
func writeDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	trImg, trLab := tinySet(6, 10)
	teImg, teLab := tinySet(2, 10)
	dir := writeDir(t, map[string][]byte{
		TrainImagesFile + ".gz": gz(t, trImg),
		TrainLabelsFile:         trLab,
		// The original distribution's spelling, gzip-compressed.
		"t10k-images.idx3-ubyte.gz": gz(t, teImg),
		TestLabelsFile + ".gz":      gz(t, teLab),
	})
	train, test, err := LoadDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 6 || test.Len() != 2 || train.NumClasses() != DefaultNumClasses {
		t.Fatalf("train %d test %d classes %d, want 6, 2, 10", train.Len(), test.Len(), train.NumClasses())
	}

	ftr, err := LoadFiles(filepath.Join(dir, TrainImagesFile+".gz"), filepath.Join(dir, TrainLabelsFile), nil)
	if err != nil || !slices.Equal(ftr.Labels(), train.Labels()) {
		t.Fatalf("LoadFiles = %v, %v", ftr, err)
	}
}

func TestLoadDirErrors(t *testing.T) {
	trImg, trLab := tinySet(6, 10)
	teImg, teLab := tinySet(2, 10)
	full := map[string][]byte{
		TrainImagesFile: trImg, TrainLabelsFile: trLab,
		TestImagesFile: teImg, TestLabelsFile: teLab,
	}
	with := func(change func(m map[string][]byte)) map[string][]byte {
		m := make(map[string][]byte)
		for k, v := range full {
			m[k] = v
		}
		change(m)
		return m
	}
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		is    error
		msg   string
	}{
		{"missing test labels", with(func(m map[string][]byte) { delete(m, TestLabelsFile) }),
			fs.ErrNotExist, "no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz"},
		{"two spellings", with(func(m map[string][]byte) { m[TrainImagesFile+".gz"] = gz(t, trImg) }),
			robust.ErrConfig, "more than one of [train-images-idx3-ubyte train-images-idx3-ubyte.gz]"},
		{"mismatched test pair", with(func(m map[string][]byte) { m[TestLabelsFile] = trLab }),
			robust.ErrShape, "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train, test, err := LoadFS(toMapFS(tc.files), nil)
			if !errors.Is(err, tc.is) || train != nil || test != nil {
				t.Fatalf("LoadFS = %v, %v, %v; want an error wrapping %v", train, test, err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			// The same through the host file system, which adds the directory.
			dir := writeDir(t, tc.files)
			_, _, err = LoadDir(dir, nil)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), dir) {
				t.Errorf("LoadDir error %q, want one wrapping %v that names %s", err, tc.is, dir)
			}
		})
	}
	if _, err := LoadFiles("/nonexistent/a", "/nonexistent/b", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFiles of missing files: error %v, want ErrNotExist", err)
	}
}

func toMapFS(files map[string][]byte) fstest.MapFS {
	m := fstest.MapFS{}
	for name, b := range files {
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}
