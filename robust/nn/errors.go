package nn

import "fmt"

// errorf returns an error in the package's one shape, "nn: <what was
// wrong, with the value>: <sentinel>", wrapping sentinel, as package attack
// does: "nn: Options.Workers = -1, want >= 0: robust: invalid
// configuration".
func errorf(sentinel error, format string, a ...any) error {
	return fmt.Errorf("nn: "+format+": %w", append(a, sentinel)...)
}

// formatErr reports a malformed file, wrapping ErrFormat.
func formatErr(format string, a ...any) error { return errorf(ErrFormat, format, a...) }

// specErr reports an invalid Spec, wrapping ErrSpec:
// "nn: Spec.Layers[2] (Conv2D): Stride = -1, want ...: nn: invalid spec".
func specErr(format string, a ...any) error { return errorf(ErrSpec, format, a...) }
