package nn

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

// tinySpec has every layer kind and 111 parameters, so its file is about
// 1.4 KB and a test can flip every byte of it.
func tinySpec() Spec {
	return Spec{
		Input:  [3]int{1, 6, 6},
		Bounds: robust.Bounds{Min: -1, Max: 1},
		Layers: []Layer{
			Normalize{Mean: []float64{0.1}, Std: []float64{0.3}},
			Conv2D{Out: 2, Kernel: 3, Stride: 1, Pad: 1}, ReLU{}, // 2x6x6
			MaxPool2D{Kernel: 2, Stride: 2}, // 2x3x3
			AvgPool2D{Kernel: 1, Stride: 1}, // 2x3x3
			Flatten{}, Dense{Out: 4}, Dropout{P: 0.5}, ReLU{}, Dense{Out: 3},
		},
	}
}

// testKey returns a fixed key pair; seed picks one of several.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func saveBytes(t testing.TB, m *Model, o *SaveOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Save(&b, m, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func loadBytes(b []byte, o *LoadOptions) (*Model, error) {
	return Load(bytes.NewReader(b), o)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	pub, priv := testKey(1)
	for _, c := range []struct {
		name string
		spec Spec
		f64  bool
	}{
		{"tiny float32", tinySpec(), false},
		{"tiny float64", tinySpec(), true},
		{"small float32", smallSpec(), false},
		{"reference float32", ReferenceCNN(), false},
		{"reference float64", ReferenceCNN(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := mustNew(t, c.spec, &Options{Seed: 3, Float64: c.f64})
			file := saveBytes(t, m, nil)
			if again := saveBytes(t, m, nil); !bytes.Equal(file, again) {
				t.Fatal("two Saves of one model differ")
			}
			got, err := loadBytes(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Float64() != c.f64 {
				t.Errorf("Float64() = %v after load, want %v", got.Float64(), c.f64)
			}
			if !reflect.DeepEqual(got.Spec(), m.Spec()) {
				t.Errorf("spec changed:\n got %#v\nwant %#v", got.Spec(), m.Spec())
			}
			want, have := m.Params(), got.Params()
			for i := range want {
				if want[i].Name != have[i].Name || !reflect.DeepEqual(want[i].Value.Data(), have[i].Value.Data()) {
					t.Errorf("parameter %s differs after load", want[i].Name)
				}
			}
			x := randImages(3, c.spec, 9)
			za, err := m.Logits(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			zb, err := got.Logits(context.Background(), x)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(data32(za), data32(zb)) {
				t.Errorf("logits differ after load:\n%v\n%v", data32(za), data32(zb))
			}
			if resaved := saveBytes(t, got, nil); !bytes.Equal(file, resaved) {
				t.Error("saving the loaded model gives different bytes")
			}
			signed := saveBytes(t, m, &SaveOptions{PrivateKey: priv})
			if _, err := loadBytes(signed, &LoadOptions{PublicKey: pub}); err != nil {
				t.Errorf("signed file: %v", err)
			}
		})
	}
}

// splitFile returns the header (without padding) and data of a file.
func splitFile(t testing.TB, file []byte) (map[string]any, []byte) {
	t.Helper()
	n := binary.LittleEndian.Uint64(file)
	dec := json.NewDecoder(bytes.NewReader(file[8 : 8+n]))
	dec.UseNumber() // numbers re-encode exactly as written
	var h map[string]any
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h, file[8+n:]
}

// joinFile encodes a header like canonicalHeader (keys sorted, no
// spaces), pads it and appends data. If the metadata's sha256 is "", it is
// set to the right digest, so that a crafted file gets past the digest
// check to whatever it tests.
func joinFile(t testing.TB, h map[string]any, data []byte) []byte {
	t.Helper()
	enc := func(v any) []byte {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	if meta, ok := h[metadataKey].(map[string]any); ok && meta[metaSHA256] == "" {
		plain := map[string]any{}
		for k, v := range meta {
			if k != metaSHA256 && k != metaSignature {
				plain[k] = v
			}
		}
		hd := map[string]any{}
		for k, v := range h {
			hd[k] = v
		}
		hd[metadataKey] = plain
		meta[metaSHA256], _ = hexDigest(enc(hd), func(w io.Writer) error { _, err := w.Write(data); return err })
	}
	return rawFile(padHeader(enc(h)), data)
}

// rawFile prefixes header with its length and appends data.
func rawFile(header, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestStrippedAndResignedFiles(t *testing.T) {
	pub1, priv1 := testKey(1)
	_, priv2 := testKey(2)
	m := mustNew(t, tinySpec(), nil)
	unsigned := saveBytes(t, m, nil)
	signed := saveBytes(t, m, &SaveOptions{PrivateKey: priv1})

	// Removing the signature entry and re-encoding gives exactly the
	// unsigned file: the signature covers nothing the digest does not.
	h, data := splitFile(t, signed)
	delete(h[metadataKey].(map[string]any), metaSignature)
	stripped := joinFile(t, h, data)
	if !bytes.Equal(stripped, unsigned) {
		t.Fatal("a signed file without its signature differs from the unsigned file")
	}
	strict := &LoadOptions{PublicKey: pub1}
	cases := []struct {
		name string
		file []byte
		opts *LoadOptions
		want error
	}{
		{"signed, key", signed, strict, nil},
		{"signed, no key", signed, nil, nil},
		{"unsigned, key", unsigned, strict, ErrSignature},
		{"unsigned, key, AllowUnsigned", unsigned, &LoadOptions{PublicKey: pub1, AllowUnsigned: true}, nil},
		{"stripped, signature required", stripped, strict, ErrSignature},
		{"re-signed with another key", saveBytes(t, m, &SaveOptions{PrivateKey: priv2}), strict, ErrSignature},
		{"re-signed with another key, AllowUnsigned", saveBytes(t, m, &SaveOptions{PrivateKey: priv2}), &LoadOptions{PublicKey: pub1, AllowUnsigned: true}, ErrSignature},
	}
	for _, c := range cases {
		_, err := loadBytes(c.file, c.opts)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSaveLoadOptions(t *testing.T) {
	m := mustNew(t, tinySpec(), nil)
	file := saveBytes(t, m, nil)
	pub, priv := testKey(1)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"AllowUnsigned without key", func() error { _, err := loadBytes(file, &LoadOptions{AllowUnsigned: true}); return err }()},
		{"short public key", func() error { _, err := loadBytes(file, &LoadOptions{PublicKey: pub[:31]}); return err }()},
		{"negative MaxBytes", func() error { _, err := loadBytes(file, &LoadOptions{MaxBytes: -1}); return err }()},
		{"negative MaxHeaderBytes", func() error { _, err := loadBytes(file, &LoadOptions{MaxHeaderBytes: -1}); return err }()},
		{"negative Workers", func() error { _, err := loadBytes(file, &LoadOptions{Options: Options{Workers: -1}}); return err }()},
		{"nil model", Save(&bytes.Buffer{}, nil, nil)},
		{"short private key", Save(&bytes.Buffer{}, m, &SaveOptions{PrivateKey: priv[:63]})},
		{"inconsistent private key", Save(&bytes.Buffer{}, m, &SaveOptions{PrivateKey: append(append(ed25519.PrivateKey(nil), priv[:32]...), make([]byte, 32)...)})},
	} {
		if !errors.Is(c.err, robust.ErrConfig) {
			t.Errorf("%s: got %v, want robust.ErrConfig", c.name, c.err)
		}
	}
}

// TestLoadFloat64: LoadOptions.Float64 loads an F32 file as a Float64 model
// with the same weights.
func TestLoadFloat64(t *testing.T) {
	m := mustNew(t, tinySpec(), nil)
	got, err := loadBytes(saveBytes(t, m, nil), &LoadOptions{Options: Options{Float64: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Float64() {
		t.Fatal("LoadOptions.Float64 gave a float32 model")
	}
	for i, p := range got.Params() {
		want := m.Params()[i].Value.Data().([]float32)
		for j, v := range p.Value.Data().([]float64) {
			if v != float64(want[j]) {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, j, v, want[j])
			}
		}
	}
}

func TestSaveWriteError(t *testing.T) {
	m := mustNew(t, tinySpec(), nil)
	n := len(saveBytes(t, m, nil))
	for _, limit := range []int{0, 4, 8, 100, n - 1} {
		w := &limitWriter{n: limit}
		if err := Save(w, m, nil); !errors.Is(err, errWriteLimit) {
			t.Errorf("writer failing after %d bytes: got %v", limit, err)
		}
	}
}

var errWriteLimit = errors.New("write limit")

type limitWriter struct{ n int }

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWriteLimit
	}
	w.n -= len(p)
	return len(p), nil
}

// TestFileLooksLikeSafetensors pins the layout a safetensors reader needs.
func TestFileLooksLikeSafetensors(t *testing.T) {
	file := saveBytes(t, mustNew(t, tinySpec(), nil), nil)
	n := binary.LittleEndian.Uint64(file)
	if n%8 != 0 || file[8] != '{' {
		t.Fatalf("header length %d, first byte %q", n, file[8])
	}
	h, data := splitFile(t, file)
	meta := h[metadataKey].(map[string]any)
	if meta[metaFormat] != Format || len(meta) != 3 {
		t.Errorf("metadata %v", meta)
	}
	w := h["1.weight"].(map[string]any)
	if w["dtype"] != "F32" || !reflect.DeepEqual(w["shape"], []any{json.Number("2"), json.Number("1"), json.Number("3"), json.Number("3")}) ||
		!reflect.DeepEqual(w["data_offsets"], []any{json.Number("0"), json.Number("72")}) {
		t.Errorf("1.weight entry %v", w)
	}
	if len(data) != 111*4 {
		t.Errorf("data section has %d bytes, want 444", len(data))
	}
	if !strings.HasPrefix(string(file[8:]), `{"1.bias":{"data_offsets":[72,80],"dtype":"F32","shape":[2]},"1.weight"`) {
		t.Errorf("header starts %s", file[8:80])
	}
}
