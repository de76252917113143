package eval

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gorobust/gorobust/robust"
)

// ParseEpsilons reads budgets as people write them: a comma-separated,
// strictly increasing list of decimals or fractions of two decimals, such
// as "0.1,0.2,0.3" or "2/255,4/255,8/255" (8/255 is 0.0313..., not 0.031).
// Every budget must be finite and > 0. Errors wrap robust.ErrConfig.
func ParseEpsilons(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := parseEps(f)
		if err != nil {
			return nil, fmt.Errorf("eval: epsilons %q: %w", s, err)
		}
		if len(out) > 0 && v <= out[len(out)-1] {
			return nil, fmt.Errorf("eval: epsilons %q: %v after %v, want strictly increasing budgets: %w", s, v, out[len(out)-1], robust.ErrConfig)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseEps(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, den, frac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return 0, fmt.Errorf("%q divides by zero: %w", s, robust.ErrConfig)
			}
			v /= d
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or a fraction such as 8/255: %w", s, robust.ErrConfig)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("%q = %v, want a finite value > 0: %w", s, v, robust.ErrConfig)
	}
	return v, nil
}
