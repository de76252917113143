package smoothing

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/gorobust/gorobust/robust"
)

// LowerConfidenceBound returns the one-sided (1 - alpha) Clopper-Pearson
// lower confidence bound on the success probability of a binomial from k
// successes in n trials: the alpha quantile of Beta(k, n-k+1), or 0 when k
// is 0. It is the bound of Cohen et al.'s CERTIFY, which calls
// statsmodels' proportion_confint(k, n, alpha=2*alpha, method="beta")[0].
// It returns an error wrapping robust.ErrConfig unless n >= 1, 0 <= k <= n
// and alpha is in (0, 1).
func LowerConfidenceBound(k, n int, alpha float64) (float64, error) {
	if n < 1 {
		return 0, fmt.Errorf("smoothing: LowerConfidenceBound: n = %d, want >= 1: %w", n, robust.ErrConfig)
	}
	if k < 0 || k > n {
		return 0, fmt.Errorf("smoothing: LowerConfidenceBound: k = %d, want [0, n] = [0, %d]: %w", k, n, robust.ErrConfig)
	}
	if !(alpha > 0 && alpha < 1) {
		return 0, fmt.Errorf("smoothing: LowerConfidenceBound: alpha = %v, want a value in (0, 1): %w", alpha, robust.ErrConfig)
	}
	if k == 0 {
		return 0, nil
	}
	return distuv.Beta{Alpha: float64(k), Beta: float64(n - k + 1)}.Quantile(alpha), nil
}

// binomialPValue returns the two-sided p-value of the exact binomial test
// of k successes in n trials against probability 1/2, as scipy's
// binom_test(k, n, 0.5) computes it, for k >= n/2: by symmetry, twice the
// upper tail P(X >= k), at most 1.
func binomialPValue(k, n int) float64 {
	if 2*k <= n {
		return 1
	}
	// P(X >= k) = I_{1/2}(k, n-k+1) for X ~ Binomial(n, 1/2).
	return math.Min(1, 2*mathext.RegIncBeta(float64(k), float64(n-k+1), 0.5))
}

// radius is the certified L2 radius sigma * Phi^-1(pLower).
func radius(sigma, pLower float64) float64 {
	return sigma * distuv.UnitNormal.Quantile(pLower)
}
