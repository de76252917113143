// Command signmodel generates Ed25519 keys, signs model files and verifies
// them, with the model file format of robust/nn.
//
//	go run ./examples/signmodel keygen -key model.key -pub model.pub
//	go run ./examples/signmodel sign -key model.key -out model.safetensors
//	go run ./examples/signmodel verify -pub model.pub model.safetensors
//
// sign signs a fresh ReferenceCNN (seeded with -seed) or, with -model, an
// existing model file. verify exits with status 1 unless the file is
// intact and signed by the public key. Keys are PEM files that OpenSSL
// reads and writes too (openssl genpkey -algorithm ed25519).
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gorobust/gorobust/robust/nn"
)

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "signmodel: missing command")
		usage()
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{"keygen": keygen, "sign": sign, "verify": verify}
	cmd, ok := cmds[flag.Arg(0)]
	if !ok {
		fmt.Fprintf(os.Stderr, "signmodel: unknown command %q\n", flag.Arg(0))
		usage()
		os.Exit(2)
	}
	err := cmd(flag.Args()[1:])
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "signmodel:", err)
		ue.flags.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "signmodel:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(flag.CommandLine.Output(), `signmodel generates Ed25519 keys, signs model files and verifies their signatures.

Usage:
  signmodel <command> [flags]

Commands:
  keygen -key FILE -pub FILE          generate an Ed25519 key pair
  sign -key FILE -out FILE [-model FILE | -seed N]
                                      sign a model (default: a fresh ReferenceCNN)
  verify -pub FILE MODEL              check that MODEL is intact and signed by the key

Run "signmodel <command> -h" for a command's flags.
`)
}

// usageError is a bad invocation of a command: main prints it with the
// command's usage and exits with status 2, as Go's tools do.
type usageError struct {
	flags *flag.FlagSet
	err   error
}

func (e *usageError) Error() string { return e.flags.Name() + ": " + e.err.Error() }

// newFlagSet returns the flag set of a command, whose -h prints the
// command's description and usage line.
func newFlagSet(name, description, synopsis string) *flag.FlagSet {
	f := flag.NewFlagSet(name, flag.ExitOnError)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), "%s\n\nUsage:\n  signmodel %s\n\nFlags:\n", description, synopsis)
		f.PrintDefaults()
	}
	return f
}

// parse parses a command's flags and refuses arguments after them.
func parse(f *flag.FlagSet, args []string) error {
	f.Parse(args) // ExitOnError: a bad flag exits with status 2
	if f.NArg() > 0 {
		return &usageError{f, fmt.Errorf("unexpected arguments %q", f.Args())}
	}
	return nil
}

// samePath reports whether a and b name the same file as written.
func samePath(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

func keygen(args []string) error {
	f := newFlagSet("keygen", "signmodel keygen generates an Ed25519 key pair; it never replaces an existing file.", "keygen -key FILE -pub FILE")
	key := f.String("key", "model.key", "private key file to create (mode 0600)")
	pub := f.String("pub", "model.pub", "public key file to create")
	if err := parse(f, args); err != nil {
		return err
	}
	switch {
	case *key == "" || *pub == "":
		return &usageError{f, errors.New("-key and -pub must name files")}
	case samePath(*key, *pub):
		return &usageError{f, fmt.Errorf("-key and -pub are the same file %q", *key)}
	}
	pk, sk, err := ed25519.GenerateKey(nil) // nil: crypto/rand
	if err != nil {
		return err
	}
	// The private key is readable by its owner only.
	if err := writeNewFile(*key, 0o600, func(w io.Writer) error { return nn.WritePrivateKey(w, sk) }); err != nil {
		return err
	}
	if err := writeNewFile(*pub, 0o644, func(w io.Writer) error { return nn.WritePublicKey(w, pk) }); err != nil {
		// A private key without its public half is of no use, and would
		// make the next keygen refuse to run.
		os.Remove(*key)
		return err
	}
	fmt.Printf("wrote %s and %s\nkey fingerprint %s\n", *key, *pub, fingerprint(pk))
	return nil
}

func sign(args []string) error {
	f := newFlagSet("sign", "signmodel sign signs a model file, a fresh ReferenceCNN unless -model names one.", "sign -key FILE -out FILE [-model FILE | -seed N]")
	key := f.String("key", "model.key", "private key file")
	in := f.String("model", "", "model file to sign (its digest is checked, any signature replaced); empty for a fresh ReferenceCNN")
	seed := f.Uint64("seed", 1, "weight seed of the fresh ReferenceCNN")
	out := f.String("out", "model.safetensors", "signed model file to write")
	if err := parse(f, args); err != nil {
		return err
	}
	seedSet := false
	f.Visit(func(fl *flag.Flag) { seedSet = seedSet || fl.Name == "seed" })
	switch {
	case *key == "" || *out == "":
		return &usageError{f, errors.New("-key and -out must name files")}
	case samePath(*key, *out):
		return &usageError{f, fmt.Errorf("-out is the key file %q", *key)}
	case *in != "" && seedSet:
		return &usageError{f, errors.New("-seed seeds a fresh ReferenceCNN, -model signs an existing model: give one")}
	}
	sk, err := readKey(*key, nn.ReadPrivateKey)
	if err != nil {
		return err
	}
	var m *nn.Model
	if *in != "" {
		m, err = nn.LoadFile(*in, nil)
	} else {
		m, err = nn.New(nn.ReferenceCNN(), &nn.Options{Seed: *seed})
	}
	if err != nil {
		return err
	}
	if err := nn.SaveFile(*out, m, &nn.SaveOptions{PrivateKey: sk}); err != nil {
		return err
	}
	fmt.Printf("signed %s with key %s: %s\n", *out, fingerprint(sk.Public().(ed25519.PublicKey)), describe(m))
	return nil
}

func verify(args []string) error {
	f := newFlagSet("verify", "signmodel verify checks that a model file is intact and signed by the public key; it exits with status 1 if not.", "verify -pub FILE MODEL")
	pub := f.String("pub", "model.pub", "public key file")
	f.Parse(args) // ExitOnError: a bad flag exits with status 2
	switch {
	case f.NArg() != 1:
		return &usageError{f, fmt.Errorf("want one model file, got %d arguments", f.NArg())}
	case *pub == "":
		return &usageError{f, errors.New("-pub must name a file")}
	}
	pk, err := readKey(*pub, nn.ReadPublicKey)
	if err != nil {
		return err
	}
	m, err := nn.LoadFile(f.Arg(0), &nn.LoadOptions{PublicKey: pk})
	if err != nil {
		fmt.Printf("FAILED %s: %v\n", f.Arg(0), err)
		return fmt.Errorf("verification failed")
	}
	fmt.Printf("OK %s: intact and signed by key %s: %s\n", f.Arg(0), fingerprint(pk), describe(m))
	return nil
}

// writeNewFile creates path with the given mode and what write produces.
// It refuses to replace an existing file, which may hold the only copy of
// another key: O_EXCL makes the check and the creation one step. If writing
// fails, it removes the file it created, so an error never leaves half a
// key behind.
func writeNewFile(path string, mode os.FileMode, write func(io.Writer) error) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w: keygen never replaces a key file", path, fs.ErrExist)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	// The umask may have narrowed mode; the file gets mode exactly.
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func readKey[K any](path string, read func(io.Reader) (K, error)) (K, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero K
		return zero, err
	}
	defer f.Close()
	k, err := read(f)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// fingerprint is the SHA-256 of the key's PKIX encoding, as ssh-keygen
// prints fingerprints.
func fingerprint(pk ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		return "?"
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

func describe(m *nn.Model) string {
	prec := "float32"
	if m.Float64() {
		prec = "float64"
	}
	s := m.Spec()
	return fmt.Sprintf("%d layers, input %v, %d classes, %d parameters (%s)", len(s.Layers), s.Input, m.NumClasses(), m.NumParams(), prec)
}
