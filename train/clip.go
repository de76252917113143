package train

import "math"

// clip clamps every entry to [-value, value] (value > 0), then rescales all
// gradients together to an L2 norm of at most norm (norm > 0). It returns the
// norm before and after, and false when a gradient is not finite.
func clip(grads [][]float64, value, norm float64) (before, after float64, ok bool) {
	sum := 0.0
	for _, g := range grads {
		for _, v := range g {
			sum += v * v
		}
	}
	before = math.Sqrt(sum)
	if math.IsNaN(before) || math.IsInf(before, 0) {
		return before, before, false
	}
	if value > 0 {
		sum = 0
		for _, g := range grads {
			for j, v := range g {
				g[j] = math.Max(-value, math.Min(value, v))
				sum += g[j] * g[j]
			}
		}
	}
	after = math.Sqrt(sum)
	if norm > 0 && after > norm {
		s := norm / after
		for _, g := range grads {
			for j := range g {
				g[j] *= s
			}
		}
		after = norm
	}
	return before, after, true
}
