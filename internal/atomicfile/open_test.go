//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpenRegularRefusesFIFOAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.grb")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		f, _, err := OpenRegular(fifo)
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("OpenRegular accepted a FIFO")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("OpenRegular blocked on a FIFO")
	}
}

func TestOpenRegularReadsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, st, err := OpenRegular(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st.Size() != 3 {
		t.Fatalf("size %d, want 3", st.Size())
	}
	if _, _, err := OpenRegular(t.TempDir()); err == nil {
		t.Fatal("OpenRegular accepted a directory")
	}
}
