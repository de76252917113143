package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gorobust/gorobust/robust/nn"
)

// TestKeygen: keygen writes keys that read back, the private one readable
// by its owner only, and never replaces an existing key file.
func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "model.key"), filepath.Join(dir, "model.pub")
	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull)
	defer func() { os.Stdout = stdout }()
	if err := keygen([]string{"-key", key, "-pub", pub}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for path, mode := range map[string]os.FileMode{key: 0o600, pub: 0o644} {
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
				t.Errorf("%s: mode %v (%v), want %v", path, st.Mode().Perm(), err, mode)
			}
		}
	}
	sk, err := readKey(key, nn.ReadPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readKey(pub, nn.ReadPublicKey); err != nil {
		t.Fatal(err)
	}
	if err := keygen([]string{"-key", key, "-pub", filepath.Join(dir, "other.pub")}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("keygen over an existing key: got %v, want fs.ErrExist", err)
	}
	if again, err := readKey(key, nn.ReadPrivateKey); err != nil || !again.Equal(sk) {
		t.Errorf("the existing key did not survive: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("%d files in the directory, want the 2 keys (no temporary files)", len(entries))
	}
}

// TestKeygenPublicExists: when the public key file exists, keygen leaves
// neither it changed nor a private key behind.
func TestKeygenPublicExists(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "model.key"), filepath.Join(dir, "model.pub")
	if err := os.WriteFile(pub, []byte("someone else's key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := keygen([]string{"-key", key, "-pub", pub}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("keygen over an existing public key: got %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("private key left behind: %v", err)
	}
	if b, err := os.ReadFile(pub); err != nil || string(b) != "someone else's key" {
		t.Errorf("the existing file changed: %q, %v", b, err)
	}
}

// Bad invocations are usage errors, found before any file is touched.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	for name, c := range map[string]struct {
		cmd  func([]string) error
		args []string
	}{
		"keygen argument":   {keygen, []string{"-key", key, "-pub", key + ".pub", "extra"}},
		"keygen same file":  {keygen, []string{"-key", key, "-pub", key}},
		"keygen empty key":  {keygen, []string{"-key", "", "-pub", key}},
		"sign argument":     {sign, []string{"-key", key, "extra"}},
		"sign model, seed":  {sign, []string{"-key", key, "-model", "m.safetensors", "-seed", "2"}},
		"sign over the key": {sign, []string{"-key", key, "-out", key}},
		"verify no model":   {verify, []string{"-pub", key}},
		"verify two models": {verify, []string{"-pub", key, "a", "b"}},
	} {
		var ue *usageError
		if err := c.cmd(c.args); !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want a usage error", name, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files written", len(entries))
	}
}
