package cli

import (
	"errors"
	"math"
	"testing"
)

func TestParseEps(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.3", 0.3, true},
		{"8/255", 8.0 / 255, true},
		{" 2 / 255 ", 2.0 / 255, true},
		{"1e-2", 0.01, true},
		{"0", 0, false},
		{"-0.1", 0, false},
		{"8/0", 0, false},
		{"NaN", 0, false},
		{"inf", 0, false},
		{"eight", 0, false},
		{"8/x", 0, false},
		{"", 0, false},
	} {
		got, err := ParseEps(c.in)
		if (err == nil) != c.ok || (c.ok && math.Abs(got-c.want) > 1e-15) {
			t.Errorf("ParseEps(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseEpsList(t *testing.T) {
	got, err := ParseEpsList("2/255,4/255,0.1")
	if err != nil || len(got) != 3 || got[2] != 0.1 {
		t.Fatalf("ParseEpsList = %v, %v", got, err)
	}
	for _, bad := range []string{"0.2,0.1", "0.1,0.1", "0.1,,0.2", "0.1,x"} {
		if _, err := ParseEpsList(bad); err == nil {
			t.Errorf("ParseEpsList(%q) accepted", bad)
		}
	}
}

func TestUsageError(t *testing.T) {
	err := Usagef("flag -n = %d, want >= 0", -1)
	var ue UsageError
	if !errors.As(err, &ue) || err.Error() != "flag -n = -1, want >= 0" {
		t.Fatalf("Usagef gave %v", err)
	}
	var e EpsValue
	v := 0.0
	e.V = &v
	if err := e.Set("8/255"); err != nil || v != 8.0/255 || e.String() != "0.03137254901960784" {
		t.Errorf("EpsValue: %v %v %q", err, v, e.String())
	}
}
