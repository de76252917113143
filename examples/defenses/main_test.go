package main

import "testing"

// Bad flags are refused before any model or data is read, and -only picks
// rows by name.
func TestCheckFlags(t *testing.T) {
	good := options{n: 1000, quality: 20, seed: 1}
	rows, err := checkFlags(good)
	if err != nil || len(rows) != len(table(good)) {
		t.Fatalf("checkFlags(good) = %d rows, %v; want all %d", len(rows), err, len(table(good)))
	}
	only := good
	only.only = "EOT 30"
	if rows, err := checkFlags(only); err != nil || len(rows) != 2 {
		t.Errorf("-only %q: %d rows, %v; want 2 (FGSM and PGD-10)", only.only, len(rows), err)
	}
	var r ratioFlag
	if err := r.Set("331/299"); err != nil || float64(r) != 331.0/299 {
		t.Errorf("-ratio 331/299: %v, %v", float64(r), err)
	}
	if err := r.Set("0"); err != nil || r != 0 {
		t.Errorf("-ratio 0: %v, %v", float64(r), err)
	}
	for _, bad := range []string{"-1", "1.1,1.2", "x"} {
		if err := r.Set(bad); err == nil {
			t.Errorf("-ratio %s accepted", bad)
		}
	}
	for name, mod := range map[string]func(*options){
		"n":           func(o *options) { o.n = 0 },
		"n large":     func(o *options) { o.n = mnistTestLen + 1 },
		"quality 0":   func(o *options) { o.quality = 0 },
		"quality 101": func(o *options) { o.quality = 101 },
		"ratio 1":     func(o *options) { o.ratio = 1 },
		"ratio 5":     func(o *options) { o.ratio = 5 },
		"only":        func(o *options) { o.only = "no such row" },
	} {
		o := good
		mod(&o)
		if _, err := checkFlags(o); err == nil {
			t.Errorf("%s: checkFlags accepted %+v", name, o)
		}
	}
}
