//go:build unix

package atomicfile

import (
	"os"
	"syscall"
)

// openNonblock opens path read-only with O_NONBLOCK. On a regular file the
// flag changes nothing: reads of regular files never block on Unix.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
