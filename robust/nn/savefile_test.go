package nn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gorobust/gorobust/robust"
)

func TestSaveFileLoadFile(t *testing.T) {
	pub, priv := testKey(1)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	m := mustNew(t, tinySpec(), &Options{Seed: 5})
	if err := SaveFile(path, m, &SaveOptions{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := saveBytes(t, m, &SaveOptions{PrivateKey: priv}); !bytes.Equal(b, want) {
		t.Error("SaveFile wrote other bytes than Save")
	}
	if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	got, err := LoadFile(path, &LoadOptions{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saveBytes(t, got, nil), saveBytes(t, m, nil)) {
		t.Error("LoadFile gave another model")
	}
	if _, err := LoadFile(path, &LoadOptions{MaxBytes: int64(len(b)) - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file above MaxBytes: got %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := LoadFile(dir, nil); err == nil {
		t.Error("loading a directory succeeded")
	}
	onlyFile(t, dir, "model.safetensors")
}

// TestSaveFileFailureKeepsOldFile makes SaveFile fail after it created its
// temporary file and checks that the old model is intact and the temporary
// file gone.
func TestSaveFileFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := mustNew(t, tinySpec(), &Options{Seed: 1})
	if err := SaveFile(path, old, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, priv := testKey(1)
	err := SaveFile(path, mustNew(t, tinySpec(), &Options{Seed: 2}), &SaveOptions{PrivateKey: priv[:10]})
	if !errors.Is(err, robust.ErrConfig) {
		t.Fatalf("got %v, want robust.ErrConfig", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a failed SaveFile changed the existing file")
	}
	onlyFile(t, dir, "model.safetensors")
	if err := SaveFile(filepath.Join(dir, "no", "such", "dir"), old, nil); err == nil {
		t.Error("SaveFile into a missing directory succeeded")
	}
}

// onlyFile checks that dir holds exactly the file name: no temporary
// files were left behind.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name() != name {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s", names, name)
	}
}
