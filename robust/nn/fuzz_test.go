package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Fuzz limits: the seed files are 1.4 KB, so 64 KiB leaves the fuzzer room
// while keeping every accepted model small.
const (
	fuzzMaxBytes  = 1 << 16
	fuzzMaxHeader = 1 << 13
	// fuzzMaxAlloc bounds what one Load may allocate: the file's bytes a
	// few times over, plus parsing, plus a model of at most 64 KiB.
	fuzzMaxAlloc = 8 << 20
)

// FuzzLoad checks that Load never panics or allocates much, and that
// whatever it accepts is exactly what Save writes for the model it
// returns, up to the signature.
func FuzzLoad(f *testing.F) {
	pub, priv := testKey(1)
	m := mustNew(f, tinySpec(), nil)
	unsigned := saveBytes(f, m, nil)
	signed := saveBytes(f, m, &SaveOptions{PrivateKey: priv})
	f.Add(unsigned)
	f.Add(signed)
	f.Add(saveBytes(f, mustNew(f, tinySpec(), &Options{Float64: true}), nil))
	f.Add(saveBytes(f, mustNew(f, Spec{Input: [3]int{1, 2, 2}, Layers: []Layer{Flatten{}}}, nil), nil))
	f.Add(unsigned[:len(unsigned)/2])
	f.Add(withLength(unsigned, 1<<63))
	f.Add(withLength(unsigned, uint64(len(unsigned))))
	f.Add(editHeader(f, unsigned, `"dtype":"F32"`, `"dtype":"F32","dtype":"F32"`))
	f.Add(craft(f, func(h, _ map[string]any, d []byte) []byte {
		entryOf(h, "6.bias")["data_offsets"] = nums("360", "376")
		return d
	}))
	f.Add(craft(f, func(h, _ map[string]any, d []byte) []byte {
		entryOf(h, "6.weight")["shape"] = nums("4611686018427387904", "4")
		return d
	}))
	f.Add(craft(f, func(_, meta map[string]any, d []byte) []byte {
		meta[metaSpec] = `{"input":[4096,32,32],"layers":[{"kind":"flatten"},{"kind":"dense","out":65536}]}`
		return d
	}))
	if b, err := os.ReadFile(filepath.Join("testdata", "import", "numpy_cnn.safetensors")); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(rawFile([]byte("{}      "), nil))

	plain := &LoadOptions{MaxBytes: fuzzMaxBytes, MaxHeaderBytes: fuzzMaxHeader, Options: Options{Workers: 1}}
	strict := &LoadOptions{MaxBytes: fuzzMaxBytes, MaxHeaderBytes: fuzzMaxHeader, Options: Options{Workers: 1}, PublicKey: pub}
	check := func(t *testing.T, file []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := loadBytes(file, plain)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > fuzzMaxAlloc {
			t.Fatalf("Load of %d bytes allocated %d bytes", len(file), n)
		}
		if err != nil {
			if _, err2 := loadBytes(file, strict); err2 == nil {
				t.Fatalf("rejected without a key (%v) but accepted with one", err)
			}
			return
		}
		if bytes.Equal(saveBytes(t, m, nil), file) {
			return
		}
		// Not the unsigned encoding: then the file is signed, and it is
		// either our signed encoding or its signature is not ours.
		m2, err := loadBytes(file, strict)
		switch {
		case err == nil:
			if !bytes.Equal(saveBytes(t, m2, &SaveOptions{PrivateKey: priv}), file) {
				t.Fatal("accepted a signed file that Save would not write")
			}
		case !errors.Is(err, ErrSignature):
			t.Fatalf("accepted a file that Save would not write; with a key: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		check(t, file)
		// Most mutations only break the digest; repairing it lets them
		// reach the checks of the Spec, shapes, offsets and values.
		if fixed := withFixedDigest(file); fixed != nil {
			check(t, fixed)
		}
	})
}

// withFixedDigest re-encodes the header of file canonically, with the
// digest its content needs, or returns nil if the header does not parse.
func withFixedDigest(file []byte) []byte {
	if len(file) < 8 {
		return nil
	}
	n := binary.LittleEndian.Uint64(file)
	if n < 2 || n > fuzzMaxHeader || n > uint64(len(file)-8) {
		return nil
	}
	h, err := parseHeader(file[8 : 8+n])
	if err != nil || h.Metadata == nil {
		return nil
	}
	entries := make([]entry, 0, len(h.Tensors))
	for _, e := range h.Tensors {
		entries = append(entries, e)
	}
	data := file[8+n:]
	meta := without(h.Metadata)
	meta[metaSHA256], _ = hexDigest(digestHeader(entries, meta), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	return rawFile(padHeader(canonicalHeader(entries, meta)), data)
}

// FuzzImport checks that Import never panics or allocates much.
func FuzzImport(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "import", "numpy_cnn.safetensors"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:100])
	f.Add(saveBytes(f, mustNew(f, importCNN(), nil), nil))
	f.Fuzz(func(t *testing.T, file []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := Import(importCNN(), bytes.NewReader(file), &ImportOptions{MaxBytes: fuzzMaxBytes, MaxHeaderBytes: fuzzMaxHeader, Options: Options{Workers: 1}})
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > fuzzMaxAlloc {
			t.Fatalf("Import of %d bytes allocated %d bytes", len(file), n)
		}
		if err == nil && m.NumParams() != 1926 {
			t.Fatalf("imported %d parameters", m.NumParams())
		}
	})
}
