package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/nn"
	"github.com/gorobust/gorobust/robust/zoo"
)

// TestCommand runs the command's steps on the reference model: a signed
// file checked with its key and refused with another, and two shards merged
// into the report of a single run.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	m, err := zoo.MNISTStandard()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.safetensors")
	if err := nn.SaveFile(model, m, &nn.SaveOptions{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]ed25519.PublicKey{"good.pem": pub, "other.pem": other}
	for name, k := range keys {
		var b bytes.Buffer
		if err := nn.WritePublicKey(&b, k); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull)
	defer func() { os.Stdout = stdout }()

	base := options{model: model, pubkey: filepath.Join(dir, "good.pem"), suite: "quick", eps: "0.05,0.1",
		n: 30, batch: 8, parallel: 1, shardIndex: -1, shardCount: 1, quiet: true, meta: metaFlag{"run": "test"}}
	single := base
	single.out = filepath.Join(dir, "single")
	if err := runChecked(t, single); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.json", "report.txt", "accuracy.png", "accuracy.svg"} {
		if _, err := os.Stat(filepath.Join(single.out, f)); err != nil {
			t.Error(err)
		}
	}

	wrong := single
	wrong.pubkey = filepath.Join(dir, "other.pem")
	if err := runChecked(t, wrong); err == nil {
		t.Error("a model signed by another key was accepted")
	}

	sharded := filepath.Join(dir, "shards")
	var paths []string
	for i := range 2 {
		o := base
		o.out, o.shardIndex, o.shardCount = sharded, -1, 2
		t.Setenv("JOB_COMPLETION_INDEX", []string{"0", "1"}[i])
		if err := runChecked(t, o); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(sharded, []string{"report-shard-0-of-2.json", "report-shard-1-of-2.json"}[i]))
	}
	if err := mergeReports(options{out: sharded}, paths); err != nil {
		t.Fatal(err)
	}
	a, b := readReport(t, filepath.Join(single.out, "report.json")), readReport(t, filepath.Join(sharded, "report.json"))
	if !reflect.DeepEqual(a.Examples, b.Examples) || !reflect.DeepEqual(a.Results, b.Results) || !reflect.DeepEqual(a.Settings, b.Settings) {
		t.Error("merged shards differ from the single run")
	}
	if a.Settings.Meta["model_signature_verified"] != "true" || a.Settings.Meta["model_sha256"] == "" || a.Settings.Meta["run"] != "test" {
		t.Errorf("meta %v", a.Settings.Meta)
	}
}

func readReport(t *testing.T, path string) *eval.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := eval.ReadReport(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runChecked runs an evaluation whose flags checkFlags accepts.
func runChecked(t *testing.T, o options) error {
	t.Helper()
	j, err := checkFlags(o)
	if err != nil {
		t.Fatalf("checkFlags: %v", err)
	}
	return run(context.Background(), o, j)
}

// Bad flags are refused before any file is read.
func TestCheckFlags(t *testing.T) {
	good := options{model: "does-not-exist.safetensors", suite: "quick", eps: "2/255,8/255", n: 10, batch: 8, parallel: 1, shardIndex: -1, shardCount: 1}
	j, err := checkFlags(good)
	if err != nil || len(j.eps) != 2 || j.eps[1] != 8.0/255 {
		t.Fatalf("checkFlags(good) = %+v, %v", j, err)
	}
	for name, mod := range map[string]func(*options){
		"no model":      func(o *options) { o.model = "" },
		"eps":           func(o *options) { o.eps = "0.3,0.1" },
		"suite":         func(o *options) { o.suite = "fast" },
		"images alone":  func(o *options) { o.images = "x" },
		"data + images": func(o *options) { o.dataDir, o.images, o.label = "d", "x", "y" },
		"n":             func(o *options) { o.n = -1 },
		"batch":         func(o *options) { o.batch = 0 },
		"parallel":      func(o *options) { o.parallel = 0 },
		"shards":        func(o *options) { o.shardCount = 0 },
		"shard index":   func(o *options) { o.shardIndex, o.shardCount = 3, 2 },
		"large eps":     func(o *options) { o.largeEps = 0.01 },
	} {
		o := good
		mod(&o)
		if _, err := checkFlags(o); err == nil {
			t.Errorf("%s: checkFlags accepted %+v", name, o)
		}
	}
}
