package main

import (
	"testing"

	"github.com/gorobust/gorobust/train"
)

// defaults are the options the flags hold when none is given.
func defaults() options {
	return options{method: "fgsm-rs", epochs: 10, batch: 100, eps: 0.3, alpha: 0.375, lr: 5e-3, tradesBeta: 1,
		out: "mnist-robust.safetensors", evalN: 1000, restarts: 10, pgdSteps: 50, pgdStep: 0.01,
		earlyStop: true, validation: 1000, rollbacks: 3, trainSteps: 40}
}

// Bad flags are refused before any data is read.
func TestCheckFlags(t *testing.T) {
	j, err := checkFlags(defaults())
	if err != nil || j.trainer == nil || j.trainer.EarlyStop == nil || j.pgd.Eps != 0.3 {
		t.Fatalf("checkFlags(defaults) = %+v, %v", j, err)
	}
	var eps epsFlag
	if err := eps.Set("8/255"); err != nil || float64(eps) != 8.0/255 {
		t.Errorf("-eps 8/255: %v, %v", float64(eps), err)
	}
	for _, bad := range []string{"0", "-0.1", "0.1,0.2", "x", "1/0"} {
		if err := eps.Set(bad); err == nil {
			t.Errorf("-eps %s accepted", bad)
		}
	}
	for name, c := range map[string]struct {
		mod func(*options)
		ok  bool
	}{
		"pgd-at":                   {func(o *options) { o.method = "pgd-at" }, true},
		"trades with beta":         {func(o *options) { o.method, o.tradesBeta, o.set = "trades", 6, map[string]bool{"beta": true} }, true},
		"load":                     {func(o *options) { o.load = "m.safetensors" }, true},
		"load with eval":           {func(o *options) { o.load, o.evalN, o.set = "m.safetensors", 0, map[string]bool{"eval": true} }, true},
		"method":                   {func(o *options) { o.method = "fgsm" }, false},
		"epochs":                   {func(o *options) { o.epochs = 0 }, false},
		"batch":                    {func(o *options) { o.batch = 0 }, false},
		"eps":                      {func(o *options) { o.eps = 1.5 }, false},
		"alpha":                    {func(o *options) { o.alpha = 0 }, false},
		"lr":                       {func(o *options) { o.lr = -1 }, false},
		"beta":                     {func(o *options) { o.method, o.tradesBeta = "trades", 0 }, false},
		"eval":                     {func(o *options) { o.evalN = -1 }, false},
		"restarts":                 {func(o *options) { o.restarts = 0 }, false},
		"pgd-steps":                {func(o *options) { o.pgdSteps = 0 }, false},
		"pgd-step":                 {func(o *options) { o.pgdStep = 0 }, false},
		"workers":                  {func(o *options) { o.workers = -1 }, false},
		"validation":               {func(o *options) { o.validation = 0 }, false},
		"rollbacks":                {func(o *options) { o.rollbacks = -1 }, false},
		"clean-fraction":           {func(o *options) { o.cleanFraction = 1.5 }, false},
		"train-steps":              {func(o *options) { o.method, o.trainSteps = "pgd-at", 0 }, false},
		"clean-fraction, trades":   {func(o *options) { o.method, o.set = "trades", map[string]bool{"clean-fraction": true} }, false},
		"alpha, pgd-at":            {func(o *options) { o.method, o.set = "pgd-at", map[string]bool{"alpha": true} }, false},
		"rollbacks, no early stop": {func(o *options) { o.earlyStop, o.set = false, map[string]bool{"early-stop": true, "rollbacks": true} }, false},
		"load and import":          {func(o *options) { o.load, o.importPath = "a", "b" }, false},
		"load with epochs":         {func(o *options) { o.load, o.set = "a", map[string]bool{"epochs": true} }, false},
		"import with init":         {func(o *options) { o.importPath, o.set = "a", map[string]bool{"init": true} }, false},
	} {
		o := defaults()
		c.mod(&o)
		_, err := checkFlags(o)
		if (err == nil) != c.ok {
			t.Errorf("%s: checkFlags(%+v) = %v, want ok %v", name, o, err, c.ok)
		}
	}
}

// The trainer the default flags build is Wong et al.'s setting.
func TestDefaultTrainer(t *testing.T) {
	j, err := checkFlags(defaults())
	if err != nil {
		t.Fatal(err)
	}
	tr := j.trainer
	if tr.Epochs != 10 || tr.BatchSize != 100 || tr.Schedule != (train.Cyclic{Max: 5e-3}) || tr.Validation != 1000 || tr.EarlyStop.Rollbacks != 3 {
		t.Errorf("trainer %+v", tr)
	}
}
