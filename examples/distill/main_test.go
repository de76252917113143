package main

import (
	"context"
	"testing"

	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/zoo"
)

// Bad flags are refused before any data is read.
func TestCheckFlags(t *testing.T) {
	good := options{temp: 20, epochs: 2, evalN: 1000, eps: 0.1}
	if _, err := checkFlags(good); err != nil {
		t.Fatalf("checkFlags(good): %v", err)
	}
	var eps epsFlag
	if err := eps.Set("8/255"); err != nil || float64(eps) != 8.0/255 {
		t.Errorf("-eps 8/255: %v, %v", float64(eps), err)
	}
	for _, bad := range []string{"0", "0.1,0.2", "x"} {
		if err := eps.Set(bad); err == nil {
			t.Errorf("-eps %s accepted", bad)
		}
	}
	for name, mod := range map[string]func(*options){
		"temperature": func(o *options) { o.temp = 0 },
		"epochs":      func(o *options) { o.epochs = 0 },
		"eval":        func(o *options) { o.evalN = 0 },
		"eval large":  func(o *options) { o.evalN = mnistTestLen + 1 },
		"eps":         func(o *options) { o.eps = 1.5 },
	} {
		o := good
		mod(&o)
		if _, err := checkFlags(o); err == nil {
			t.Errorf("%s: checkFlags accepted %+v", name, o)
		}
	}
}

// meanTopProbability reads the logits of a real model: the reference
// model is confident on test digits, far above chance (0.1 for 10 classes).
func TestMeanTopProbability(t *testing.T) {
	m, err := zoo.MNISTStandard()
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	p, err := meanTopProbability(context.Background(), m, test, []int{0, 1, 2, 3, 4, 5, 6, 7})
	if err != nil {
		t.Fatal(err)
	}
	if !(p > 0.5 && p <= 1) {
		t.Errorf("mean top probability %v, want a value in (0.5, 1]", p)
	}
}
