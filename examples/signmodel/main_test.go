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
