package nn

import (
	"bytes"
	"errors"
	"testing"
)

// TestEveryByteFlipFails changes every byte of a small file in four ways
// (the lowest bit, 0x20 which turns a space into NUL and swaps letter case,
// the highest bit, and all bits) and checks that Load rejects every result, for an unsigned file loaded without a key and a signed one
// loaded with its key. The canonical header and the digest over header and
// data leave no byte, padding included, that can change harmlessly.
func TestEveryByteFlipFails(t *testing.T) {
	pub, priv := testKey(1)
	m := mustNew(t, tinySpec(), nil)
	for _, c := range []struct {
		name string
		file []byte
		opts *LoadOptions
	}{
		{"unsigned", saveBytes(t, m, nil), nil},
		{"signed", saveBytes(t, m, &SaveOptions{PrivateKey: priv}), &LoadOptions{PublicKey: pub}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := loadBytes(c.file, c.opts); err != nil {
				t.Fatal(err)
			}
			counts := map[error]int{}
			sentinels := []error{ErrFormat, ErrTooLarge, ErrSpec, ErrDigest, ErrSignature}
			buf := make([]byte, len(c.file))
			for i := range c.file {
				for _, mask := range flipMasks {
					copy(buf, c.file)
					buf[i] ^= mask
					_, err := loadBytes(buf, c.opts)
					if err == nil {
						t.Fatalf("byte %d ^ %#x: Load succeeded", i, mask)
					}
					known := false
					for _, s := range sentinels {
						if errors.Is(err, s) {
							counts[s]++
							known = true
						}
					}
					if !known {
						t.Fatalf("byte %d ^ %#x: error %v wraps no sentinel", i, mask, err)
					}
				}
			}
			t.Logf("%d bytes, %d flips: %v", len(c.file), len(flipMasks)*len(c.file), counts)
		})
	}
}

var flipMasks = []byte{0x01, 0x20, 0x80, 0xff}

// TestTruncatedOrExtendedFails cuts the file at every length and appends
// a byte.
func TestTruncatedOrExtendedFails(t *testing.T) {
	file := saveBytes(t, mustNew(t, tinySpec(), nil), nil)
	for n := range len(file) {
		if _, err := loadBytes(file[:n], nil); !errors.Is(err, ErrFormat) {
			t.Fatalf("file cut to %d of %d bytes: got %v, want ErrFormat", n, len(file), err)
		}
	}
	for _, b := range []byte{0, ' ', '\n'} {
		if _, err := loadBytes(append(bytes.Clone(file), b), nil); !errors.Is(err, ErrFormat) {
			t.Errorf("byte %q appended: got %v, want ErrFormat", b, err)
		}
	}
}
