package nn

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// ErrKey reports a key that is not an Ed25519 key in the documented
// format.
var ErrKey = errors.New("nn: invalid key")

// maxKeyBytes bounds a key file; an Ed25519 key in PEM takes about 120
// bytes.
const maxKeyBytes = 64 << 10

// PEM block types of key files: PKIX (SubjectPublicKeyInfo, RFC 8410) for
// public keys and unencrypted PKCS #8 (RFC 5208, RFC 8410) for private
// keys, the formats of `openssl genpkey -algorithm ed25519` and
// `openssl pkey -pubout`.
const (
	pemPublicKey  = "PUBLIC KEY"
	pemPrivateKey = "PRIVATE KEY"
)

// WritePublicKey writes pub as a PEM "PUBLIC KEY" block holding its PKIX
// encoding.
func WritePublicKey(w io.Writer, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errorf(ErrKey, "public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return errorf(ErrKey, "%v", err)
	}
	return pem.Encode(w, &pem.Block{Type: pemPublicKey, Bytes: der})
}

// WritePrivateKey writes priv as a PEM "PRIVATE KEY" block holding its
// unencrypted PKCS #8 encoding. Whoever reads the output can sign models
// in the owner's name: write it only to a place as private as the key.
func WritePrivateKey(w io.Writer, priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return errorf(ErrKey, "private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return errorf(ErrKey, "%v", err)
	}
	return pem.Encode(w, &pem.Block{Type: pemPrivateKey, Bytes: der})
}

// ReadPublicKey reads a public key written by WritePublicKey (or by
// `openssl pkey -pubout` from an Ed25519 key): one PEM "PUBLIC KEY" block
// and nothing else but white space.
func ReadPublicKey(r io.Reader) (ed25519.PublicKey, error) {
	der, err := readPEM(r, pemPublicKey)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errorf(ErrKey, "%v", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errorf(ErrKey, "%T, want an Ed25519 public key", k)
	}
	return pub, nil
}

// ReadPrivateKey reads a private key written by WritePrivateKey (or by
// `openssl genpkey -algorithm ed25519`): one unencrypted PEM "PRIVATE KEY"
// block and nothing else but white space.
func ReadPrivateKey(r io.Reader) (ed25519.PrivateKey, error) {
	der, err := readPEM(r, pemPrivateKey)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errorf(ErrKey, "%v", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errorf(ErrKey, "%T, want an Ed25519 private key", k)
	}
	return priv, nil
}

// readPEM reads exactly one PEM block of type typ, without headers.
func readPEM(r io.Reader, typ string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("nn: reading key: %w", err)
	}
	if len(b) > maxKeyBytes {
		return nil, errorf(ErrKey, "key file larger than %d bytes", maxKeyBytes)
	}
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
		return nil, errorf(ErrKey, "not a PEM file")
	}
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, errorf(ErrKey, "malformed PEM")
	case block.Type != typ:
		return nil, errorf(ErrKey, "PEM block %q, want %q", block.Type, typ)
	case len(block.Headers) > 0:
		return nil, errorf(ErrKey, "PEM headers are not supported (encrypted key?)")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, errorf(ErrKey, "data after the PEM block")
	}
	return block.Bytes, nil
}
