package nn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	pub, priv, err := ed25519.GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	var pb, kb bytes.Buffer
	if err := WritePublicKey(&pb, pub); err != nil {
		t.Fatal(err)
	}
	if err := WritePrivateKey(&kb, priv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pb.String(), "-----BEGIN PUBLIC KEY-----\n") || !strings.HasPrefix(kb.String(), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("unexpected PEM:\n%s%s", pb.String(), kb.String())
	}
	gotPub, err := ReadPublicKey(&pb)
	if err != nil || !gotPub.Equal(pub) {
		t.Errorf("ReadPublicKey: %v", err)
	}
	gotPriv, err := ReadPrivateKey(&kb)
	if err != nil || !gotPriv.Equal(priv) {
		t.Errorf("ReadPrivateKey: %v", err)
	}
}

func TestReadKeyRejects(t *testing.T) {
	pub, priv := testKey(1)
	var pb, kb bytes.Buffer
	WritePublicKey(&pb, pub)
	WritePrivateKey(&kb, priv)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), bytes.NewReader(bytes.Repeat([]byte{1}, 128)))
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}})
	cases := []struct {
		name  string
		in    string
		parse func(string) error
		msg   string
	}{
		{"private key as public", kb.String(), readPub, `"PRIVATE KEY", want "PUBLIC KEY"`},
		{"public key as private", pb.String(), readPriv, `"PUBLIC KEY", want "PRIVATE KEY"`},
		{"two blocks", pb.String() + pb.String(), readPub, "data after"},
		{"text before", "hello\n" + pb.String(), readPub, "not a PEM"},
		{"not PEM", "ssh-ed25519 AAAA", readPub, "not a PEM"},
		{"broken PEM", "-----BEGIN PUBLIC KEY-----\nAAAA", readPub, "malformed PEM"},
		{"ECDSA key", string(ecPEM), readPub, "want an Ed25519 public key"},
		{"encrypted", string(encrypted), readPriv, "PEM headers"},
		{"garbage DER", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})), readPub, "nn: invalid key"},
		{"huge", strings.Repeat(" ", maxKeyBytes+1), readPub, "larger than"},
	}
	for _, c := range cases {
		err := c.parse(c.in)
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want ErrKey saying %q", c.name, err, c.msg)
		}
	}
}

func readPub(s string) error  { _, err := ReadPublicKey(strings.NewReader(s)); return err }
func readPriv(s string) error { _, err := ReadPrivateKey(strings.NewReader(s)); return err }

// TestKeysInteroperateWithOpenSSL signs with a key OpenSSL generated and
// checks that OpenSSL derives the same public key from a key written here.
// It skips when openssl is not installed.
func TestKeysInteroperateWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	key, pubFile := filepath.Join(dir, "ossl.key"), filepath.Join(dir, "ossl.pub")
	for _, args := range [][]string{
		{"genpkey", "-algorithm", "ed25519", "-out", key},
		{"pkey", "-in", key, "-pubout", "-out", pubFile},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Skipf("openssl %v: %v\n%s", args, err, out)
		}
	}
	kf, _ := os.Open(key)
	defer kf.Close()
	priv, err := ReadPrivateKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	pf, _ := os.Open(pubFile)
	defer pf.Close()
	pub, err := ReadPublicKey(pf)
	if err != nil {
		t.Fatal(err)
	}
	file := saveBytes(t, mustNew(t, tinySpec(), nil), &SaveOptions{PrivateKey: priv})
	if _, err := loadBytes(file, &LoadOptions{PublicKey: pub}); err != nil {
		t.Errorf("file signed with an OpenSSL key: %v", err)
	}

	_, own := testKey(9)
	ownKey := filepath.Join(dir, "own.key")
	var ownPEM bytes.Buffer
	if err := WritePrivateKey(&ownPEM, own); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ownKey, ownPEM.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkey", "-in", ownKey, "-pubout").Output()
	if err != nil {
		t.Fatalf("openssl reading our key: %v", err)
	}
	var want bytes.Buffer
	WritePublicKey(&want, own.Public().(ed25519.PublicKey))
	if !bytes.Equal(out, want.Bytes()) {
		t.Errorf("openssl derives\n%s\nwant\n%s", out, want.Bytes())
	}
}
