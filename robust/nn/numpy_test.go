package nn

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// python is the interpreter the interop tests use: Debian's, where
// python3-numpy installs.
const python = "/usr/bin/python3"

// docSnippets returns the Python code blocks of the package documentation
// that read a file and check its signature, exactly as documented.
func docSnippets(t *testing.T) (read, verify string) {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur []string
	for _, line := range strings.Split(string(src), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			cur = append(cur, code)
			continue
		}
		if line == "//" && len(cur) > 0 {
			cur = append(cur, "")
			continue
		}
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, b := range blocks {
		switch {
		case strings.Contains(b, "np.frombuffer"):
			read = b
		case strings.Contains(b, "load_pem_public_key"):
			verify = b
		}
	}
	if read == "" || verify == "" {
		t.Fatal("doc.go lacks the numpy or signature snippet")
	}
	return read, verify
}

// havePython reports whether python imports every module.
func havePython(modules ...string) bool {
	return exec.Command(python, "-c", "import "+strings.Join(modules, ", ")).Run() == nil
}

// TestNumpyReadsSavedFiles runs the documented snippets on files written by
// Save (in a directory as model.safetensors and model.pub, the names the
// snippets use) and checks that numpy gets the spec and every weight
// exactly, that the digest and signature checks pass, and that they fail
// on a changed file. It skips without /usr/bin/python3 and numpy; the
// signature part skips without the cryptography package.
func TestNumpyReadsSavedFiles(t *testing.T) {
	if !havePython("numpy") {
		t.Skip(python + " with numpy not available")
	}
	withCrypto := havePython("cryptography")
	read, verify := docSnippets(t)
	dump := `
import sys
out = {"spec": spec, "weights": {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": [float(x) for x in v.ravel()]} for k, v in weights.items()}}
json.dump(out, sys.stdout)
`
	script := read + "\n"
	if withCrypto {
		script += verify + "\n"
	} else {
		t.Log("cryptography not available: signature snippet not run")
	}
	script += dump
	pub, priv := testKey(1)
	var pem bytes.Buffer
	if err := WritePublicKey(&pem, pub); err != nil {
		t.Fatal(err)
	}
	for _, f64 := range []bool{false, true} {
		m := mustNew(t, tinySpec(), &Options{Seed: 11, Float64: f64})
		file := saveBytes(t, m, &SaveOptions{PrivateKey: priv})
		// run runs the script on file and returns its output, or its
		// standard error and an error.
		run := func(file []byte) ([]byte, error) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "model.safetensors"), file, 0o644)
			os.WriteFile(filepath.Join(dir, "model.pub"), pem.Bytes(), 0o644)
			os.WriteFile(filepath.Join(dir, "read.py"), []byte(script), 0o644)
			cmd := exec.Command(python, "read.py")
			cmd.Dir = dir
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return stderr.Bytes(), err
			}
			return out, nil
		}
		out, err := run(file)
		if err != nil {
			t.Fatalf("float64 %v: python failed: %v\n%s", f64, err, out)
		}
		var got struct {
			Spec    json.RawMessage
			Weights map[string]struct {
				Shape  []int
				Dtype  string
				Values []float64
			}
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		spec, err := ParseSpec(got.Spec)
		if err != nil || !reflect.DeepEqual(spec, m.Spec()) {
			t.Errorf("numpy read the spec as %s (%v)", got.Spec, err)
		}
		ps := m.Params()
		if len(got.Weights) != len(ps) {
			t.Errorf("numpy read %d tensors, want %d", len(got.Weights), len(ps))
		}
		wantDtype := map[bool]string{false: "float32", true: "float64"}[f64]
		for _, p := range ps {
			w := got.Weights[p.Name]
			vals := make([]float64, 0, p.Value.Size())
			switch d := p.Value.Data().(type) {
			case []float32:
				for _, v := range d {
					vals = append(vals, float64(v))
				}
			case []float64:
				vals = append(vals, d...)
			}
			if !reflect.DeepEqual(w.Shape, p.Shape) || w.Dtype != wantDtype || !reflect.DeepEqual(w.Values, vals) {
				t.Errorf("float64 %v: numpy read %s as %v %s, values equal %v", f64, p.Name, w.Shape, w.Dtype, reflect.DeepEqual(w.Values, vals))
			}
		}
		// A changed weight fails the digest check, a changed digest the
		// signature check.
		bad := bytes.Clone(file)
		bad[len(bad)-1] ^= 1
		if msg, err := run(bad); err == nil || !bytes.Contains(msg, []byte("AssertionError")) {
			t.Errorf("float64 %v: the digest snippet accepted a changed weight", f64)
		}
		if withCrypto {
			h, data := splitFile(t, file)
			meta := h[metadataKey].(map[string]any)
			meta[metaSHA256] = "" // joinFile recomputes it over the changed spec
			meta[metaSpec] = strings.Replace(meta[metaSpec].(string), `"p":0.5`, `"p":0.25`, 1)
			if msg, err := run(joinFile(t, h, data)); err == nil || !bytes.Contains(msg, []byte("InvalidSignature")) {
				t.Errorf("float64 %v: the signature snippet accepted a changed spec", f64)
			}
		}
		t.Logf("float64 %v: numpy read %d tensors exactly; digest%s checked", f64, len(ps), map[bool]string{true: " and signature", false: ""}[withCrypto])
	}
}
