package suite_test

import (
	"errors"
	"testing"

	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/robust"
)

func TestSuites(t *testing.T) {
	cases := []struct {
		name    string
		attacks []string
		black   []bool
	}{
		{"quick", []string{"FGSM", "PGD-20"}, []bool{false, false}},
		{"strong", []string{"APGD-CE", "APGD-T", "Square"}, []bool{false, false, true}},
		{"pgd50x10", []string{"PGD-50x10"}, []bool{false}},
	}
	for _, c := range cases {
		s, err := suite.ByName(c.name, 0.1, 0.3)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if s.Name != c.name || s.Norm != robust.LInf || len(s.Attacks) != len(c.attacks) {
			t.Fatalf("%s: name %q norm %q with %d attacks", c.name, s.Name, s.Norm, len(s.Attacks))
		}
		for i, a := range s.Attacks {
			if a.Name != c.attacks[i] || a.BlackBox != c.black[i] {
				t.Errorf("%s attack %d: %q black box %v, want %q %v", c.name, i, a.Name, a.BlackBox, c.attacks[i], c.black[i])
			}
			// Randomized attacks must be reseedable, or every batch would
			// reuse one random start.
			if _, ok := a.New(0.3).(robust.Reseedable); !ok && a.Name != "FGSM" {
				t.Errorf("%s: %s is not Reseedable", c.name, a.Name)
			}
		}
	}
	if _, err := suite.ByName("autoattack", 0.3); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("unknown suite: %v", err)
	}
}
