package nn

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// SaveFile saves m to path atomically: it writes a temporary file in the
// same directory, flushes it to stable storage, renames it over path and
// flushes the directory. On error, path is unchanged (an existing file
// keeps its old content) and the temporary file is removed, so a failure
// or crash never leaves a partial model behind. The file gets mode 0644.
func SaveFile(path string, m *Model, opts *SaveOptions) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	if err := writeSynced(f, m, opts); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	return syncDir(dir)
}

// writeSynced saves m to f, flushes f to stable storage and closes it.
func writeSynced(f *os.File, m *Model, opts *SaveOptions) error {
	w := bufio.NewWriterSize(f, 1<<20)
	if err := Save(w, m, opts); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	return nil
}

// syncDir flushes a directory entry change (the rename) to stable storage.
// Windows cannot open directories for syncing; there the rename is as
// durable as the file system makes it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("nn: SaveFile: syncing %s: %w", dir, err)
	}
	return nil
}

// LoadFile loads the model at path with Load. It rejects a file larger
// than the MaxBytes limit before reading it.
func LoadFile(path string, opts *LoadOptions) (*Model, error) {
	_, lim, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: LoadFile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("nn: LoadFile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("nn: LoadFile: %s is not a regular file", path)
	}
	if st.Size() > lim.maxBytes {
		return nil, fmt.Errorf("%w: %s has %d bytes, MaxBytes is %d", ErrTooLarge, path, st.Size(), lim.maxBytes)
	}
	m, err := Load(bufio.NewReaderSize(f, 1<<20), opts)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}
