package atomicfile

import (
	"fmt"
	"os"
)

// OpenRegular opens path for reading and returns it with its FileInfo only
// if it is a regular file. A FIFO, device or socket is refused at once:
// the file is opened without blocking (O_NONBLOCK on Unix, where opening a
// FIFO with no writer would otherwise wait forever) and checked with fstat
// on the open descriptor, so a path swapped between check and open cannot
// slip through.
func OpenRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := openNonblock(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file (mode %v)", path, st.Mode().Type())
	}
	return f, st, nil
}
