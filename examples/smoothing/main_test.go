package main

import "testing"

// Bad flags are refused before any data or model is read.
func TestCheckFlags(t *testing.T) {
	good := options{path: "m.safetensors", sigma: 0.25, n: 500, n0: 100, samples: 10000, alpha: 0.001, seed: 1}
	if err := checkFlags(good); err != nil {
		t.Fatalf("checkFlags(good): %v", err)
	}
	var sigma positiveFlag
	if err := sigma.Set("64/255"); err != nil || float64(sigma) != 64.0/255 {
		t.Errorf("-sigma 64/255: %v, %v", float64(sigma), err)
	}
	for _, bad := range []string{"0", "-1", "0.25,0.5", "x"} {
		if err := sigma.Set(bad); err == nil {
			t.Errorf("-sigma %s accepted", bad)
		}
	}
	for name, mod := range map[string]func(*options){
		"model":   func(o *options) { o.path = "" },
		"epochs":  func(o *options) { o.epochs = -1 },
		"n":       func(o *options) { o.n = 0 },
		"n large": func(o *options) { o.n = mnistTestLen + 1 },
		"n0":      func(o *options) { o.n0 = 0 },
		"samples": func(o *options) { o.samples = 0 },
		"alpha 0": func(o *options) { o.alpha = 0 },
		"alpha 1": func(o *options) { o.alpha = 1 },
	} {
		o := good
		mod(&o)
		if err := checkFlags(o); err == nil {
			t.Errorf("%s: checkFlags accepted %+v", name, o)
		}
	}
}
