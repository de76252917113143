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

	"github.com/gorobust/gorobust/internal/atomicfile"
	"github.com/gorobust/gorobust/robust/nn"
)

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() < 1 {
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
	if err := cmd(flag.Args()[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "signmodel:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: signmodel <command> [flags]

Commands:
  keygen -key FILE -pub FILE          generate an Ed25519 key pair
  sign -key FILE -out FILE [-model FILE | -seed N]
                                      sign a model (default: a fresh ReferenceCNN)
  verify -pub FILE MODEL              check that MODEL is intact and signed by the key

Run "signmodel <command> -h" for a command's flags.
`)
}

func keygen(args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ExitOnError)
	key := fs.String("key", "model.key", "private key file to create (mode 0600)")
	pub := fs.String("pub", "model.pub", "public key file to create")
	fs.Parse(args)
	pk, sk, err := ed25519.GenerateKey(nil) // nil: crypto/rand
	if err != nil {
		return err
	}
	// The private key is readable by its owner only.
	if err := writeNewFile(*key, 0o600, func(w io.Writer) error { return nn.WritePrivateKey(w, sk) }); err != nil {
		return err
	}
	if err := writeNewFile(*pub, 0o644, func(w io.Writer) error { return nn.WritePublicKey(w, pk) }); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %s\nkey fingerprint %s\n", *key, *pub, fingerprint(pk))
	return nil
}

func sign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	key := fs.String("key", "model.key", "private key file")
	in := fs.String("model", "", "model file to sign (its digest is checked, any signature replaced); empty for a fresh ReferenceCNN")
	seed := fs.Uint64("seed", 1, "weight seed of the fresh ReferenceCNN")
	out := fs.String("out", "model.safetensors", "signed model file to write")
	fs.Parse(args)
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
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	pub := fs.String("pub", "model.pub", "public key file")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("verify takes one model file, got %d", fs.NArg())
	}
	pk, err := readKey(*pub, nn.ReadPublicKey)
	if err != nil {
		return err
	}
	m, err := nn.LoadFile(fs.Arg(0), &nn.LoadOptions{PublicKey: pk, RequireSignature: true})
	if err != nil {
		fmt.Printf("FAILED %s: %v\n", fs.Arg(0), err)
		return fmt.Errorf("verification failed")
	}
	fmt.Printf("OK %s: intact and signed by key %s: %s\n", fs.Arg(0), fingerprint(pk), describe(m))
	return nil
}

// writeNewFile writes path atomically with the given mode, so a crash never
// leaves half a key behind. It refuses to replace an existing file, which
// may hold the only copy of another key. (The check and the final rename
// are two steps: a file created between them by another process would be
// replaced; keygen is run by hand, where that race does not arise.)
func writeNewFile(path string, mode os.FileMode, write func(io.Writer) error) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w: keygen never replaces a key file", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return atomicfile.Write(path, mode, func(f *os.File) error { return write(f) })
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
