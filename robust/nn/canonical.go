package nn

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
)

// Format is the value of the "format" metadata entry of files written by
// Save. Load rejects any other value.
const Format = "gorobust/1"

// SignaturePrefix starts the message an Ed25519 signature signs, so that a
// signature made for anything else never verifies as a model signature.
const SignaturePrefix = "gorobust/1 model signature\n"

// Metadata keys of files written by Save. Load rejects any other key.
const (
	metaFormat    = "format"
	metaSpec      = "spec"
	metaSHA256    = "sha256"
	metaSignature = "signature"
)

// canonicalHeader encodes entries and metadata as Save writes them, before
// padding: json.dumps(h, sort_keys=True, separators=(",", ":")) in Python
// for the ASCII-only strings of these headers. Keys are sorted at every
// level; entries with data_offsets, dtype and shape.
func canonicalHeader(entries []entry, meta map[string]string) []byte {
	type tensorJSON struct {
		DataOffsets [2]int64 `json:"data_offsets"`
		Dtype       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
	}
	m := make(map[string]any, len(entries)+1)
	for _, e := range entries {
		m[e.Name] = tensorJSON{DataOffsets: [2]int64{e.Begin, e.End}, Dtype: e.Dtype, Shape: e.Shape}
	}
	m[metadataKey] = meta
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		// Strings, ints and maps of them always encode.
		panic("nn: encoding a header: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// padHeader pads h with spaces to a multiple of 8 bytes, as safetensors
// does, so that the data section starts 8-byte aligned.
func padHeader(h []byte) []byte {
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	return h
}

// without returns a copy of meta without the given keys.
func without(meta map[string]string, keys ...string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// digestHeader is the canonical header the digest covers: the metadata
// without its sha256 and signature entries.
func digestHeader(entries []entry, meta map[string]string) []byte {
	return canonicalHeader(entries, without(meta, metaSHA256, metaSignature))
}

// signedMessage is what a signature signs: SignaturePrefix followed by the
// canonical header without its signature entry (and so with the digest).
func signedMessage(entries []entry, meta map[string]string) []byte {
	h := canonicalHeader(entries, without(meta, metaSignature))
	return append([]byte(SignaturePrefix), h...)
}

// sign signs the header described by entries and meta.
func sign(priv ed25519.PrivateKey, entries []entry, meta map[string]string) []byte {
	return ed25519.Sign(priv, signedMessage(entries, meta))
}

// hexDigest returns the digest of a file: SHA-256 of the digest header
// followed by the data section.
func hexDigest(dh []byte, data func(io.Writer) error) (string, error) {
	h := sha256.New()
	h.Write(dh)
	if err := data(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeParams writes every parameter's values little-endian in order, in
// the dtype dt (F32 or F64), through a bounded buffer.
func writeParams(w io.Writer, ps []Param, dt string) error {
	buf := make([]byte, 0, 1<<16)
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	for _, p := range ps {
		switch d := p.Value.Data().(type) {
		case []float32:
			for _, v := range d {
				if dt == dtypeF64 {
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(v)))
				} else {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				}
				if len(buf) >= cap(buf)-8 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		case []float64:
			for _, v := range d {
				if dt == dtypeF64 {
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
				} else {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v)))
				}
				if len(buf) >= cap(buf)-8 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		default:
			return formatErr("parameter %s has dtype %v", p.Name, p.Value.Dtype())
		}
	}
	return flush()
}
