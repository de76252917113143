//go:build !unix

package atomicfile

import (
	"fmt"
	"os"
)

// openNonblock checks the path before opening it where O_NONBLOCK does not
// exist; these systems have no FIFOs that block an open.
func openNonblock(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %v)", path, st.Mode().Type())
	}
	return os.Open(path)
}
