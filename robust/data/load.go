package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/gorobust/gorobust/robust"
)

// DefaultNumClasses is the number of classes of MNIST and Fashion-MNIST.
const DefaultNumClasses = 10

// LoadOptions configures Load, LoadFiles, LoadFS and LoadDir. A nil
// *LoadOptions, or a zero field, means the default of that field.
type LoadOptions struct {
	// NumClasses is the number of classes; every label must be below it.
	// If 0, DefaultNumClasses is used.
	NumClasses int
	// Limits bounds the IDX files read; its zero value means the defaults
	// of IDXOptions.
	Limits IDXOptions
}

func (o *LoadOptions) numClasses() (int, error) {
	if o == nil || o.NumClasses == 0 {
		return DefaultNumClasses, nil
	}
	if o.NumClasses < 2 || o.NumClasses > 256 {
		// Labels are single bytes, so more than 256 classes cannot occur.
		return 0, fmt.Errorf("data: LoadOptions.NumClasses must be in [2, 256], got %d: %w", o.NumClasses, robust.ErrConfig)
	}
	return o.NumClasses, nil
}

func (o *LoadOptions) limits() *IDXOptions {
	if o == nil {
		return nil
	}
	return &o.Limits
}

// Load reads a Dataset from an IDX file of N x H x W images and an IDX file
// of N labels (either may be gzip-compressed). The images get one channel.
// It checks that both files hold the same number of examples and that every
// label is in [0, NumClasses).
func Load(images, labels io.Reader, opts *LoadOptions) (*Dataset, error) {
	k, err := opts.numClasses()
	if err != nil {
		return nil, err
	}
	img, err := ReadImages(images, opts.limits())
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	lab, err := ReadLabels(labels, opts.limits())
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	n := img.Dims[0]
	if len(lab) != n {
		return nil, fmt.Errorf("data: image file holds %d images but label file holds %d labels: %w", n, len(lab), robust.ErrShape)
	}
	return newOwned(img.Data, n, 1, img.Dims[1], img.Dims[2], lab, k)
}

// LoadFiles is Load for two named files.
func LoadFiles(imagesPath, labelsPath string, opts *LoadOptions) (*Dataset, error) {
	return loadPair(osFS{}, imagesPath, labelsPath, opts)
}

// osFS opens host paths as they are, unlike os.DirFS which only accepts
// slash-separated paths relative to a root.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(name) }

func loadPair(fsys fs.FS, imagesPath, labelsPath string, opts *LoadOptions) (*Dataset, error) {
	fi, err := fsys.Open(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer fi.Close()
	fl, err := fsys.Open(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer fl.Close()
	ds, err := Load(fi, fl, opts)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", imagesPath, labelsPath, err)
	}
	return ds, nil
}

// Standard file names of an MNIST-format dataset directory. Each may also
// end in ".gz", and the original distribution's spelling with a dot before
// "idx" (train-images.idx3-ubyte) is accepted as well.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// LoadDir loads the training and test sets of an MNIST-format directory,
// such as MNIST or Fashion-MNIST, that holds the four files named by
// TrainImagesFile, TrainLabelsFile, TestImagesFile and TestLabelsFile.
func LoadDir(dir string, opts *LoadOptions) (train, test *Dataset, err error) {
	train, test, err = LoadFS(os.DirFS(dir), opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	return train, test, nil
}

// LoadFS is LoadDir for the root of a file system, for example an embed.FS
// or a zip archive.
func LoadFS(fsys fs.FS, opts *LoadOptions) (train, test *Dataset, err error) {
	names := make([]string, 4)
	for i, base := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		if names[i], err = findFile(fsys, base); err != nil {
			return nil, nil, err
		}
	}
	if train, err = loadPair(fsys, names[0], names[1], opts); err != nil {
		return nil, nil, err
	}
	if test, err = loadPair(fsys, names[2], names[3], opts); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// findFile returns the one existing spelling of a standard file name. Two
// spellings at once are an error: silently preferring one could load a
// stale copy.
func findFile(fsys fs.FS, base string) (string, error) {
	dotted := strings.Replace(base, "-idx", ".idx", 1)
	var found []string
	for _, name := range []string{base, base + ".gz", dotted, dotted + ".gz"} {
		_, err := fs.Stat(fsys, name)
		switch {
		case err == nil:
			found = append(found, name)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("data: %w", err)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("data: no %s or %s.gz: %w", base, base, fs.ErrNotExist)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("data: more than one of %v present: %w", found, robust.ErrConfig)
}
