package eval_test

import (
	"errors"
	"math"
	"testing"

	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

func TestParseEpsilons(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []float64
	}{
		{"0.3", []float64{0.3}},
		{"8/255", []float64{8.0 / 255}},
		{" 2 / 255 , 4/255,0.1", []float64{2.0 / 255, 4.0 / 255, 0.1}},
		{"1e-2", []float64{0.01}},
	} {
		got, err := eval.ParseEpsilons(c.in)
		if err != nil || len(got) != len(c.want) {
			t.Fatalf("ParseEpsilons(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-15 {
				t.Errorf("ParseEpsilons(%q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
	}
	for _, bad := range []string{"", "0", "-0.1", "8/0", "NaN", "inf", "eight", "8/x", "0.2,0.1", "0.1,0.1", "0.1,,0.2"} {
		if _, err := eval.ParseEpsilons(bad); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("ParseEpsilons(%q) error %v, want robust.ErrConfig", bad, err)
		}
	}
}
