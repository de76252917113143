package nn

import (
	"bufio"
	"fmt"
	"os"

	"github.com/gorobust/gorobust/internal/atomicfile"
)

// SaveFile saves m to path atomically: it writes a temporary file in the
// same directory, flushes it to stable storage, renames it over path and
// flushes the directory. On error, path is unchanged (an existing file
// keeps its old content) and the temporary file is removed, so a failure
// or crash never leaves a partial model behind. The file gets mode 0644.
func SaveFile(path string, m *Model, opts *SaveOptions) error {
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := Save(w, m, opts); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("nn: SaveFile: %w", err)
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
	f, st, err := atomicfile.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("nn: LoadFile: %w", err)
	}
	defer f.Close()
	if st.Size() > lim.maxBytes {
		return nil, errorf(ErrTooLarge, "%s has %d bytes, want at most LoadOptions.MaxBytes = %d", path, st.Size(), lim.maxBytes)
	}
	m, err := Load(&fileReader{r: bufio.NewReaderSize(f, 1<<20), left: st.Size()}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}
