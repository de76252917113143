// Package softmax holds the one softmax of gorobust, in float64 and
// shifted by the maximum so that it neither overflows nor underflows to a
// zero sum. Every function computes exp(z_j - max z) in the same order, so
// results are bit-identical across callers.
package softmax

import "math"

// Into writes softmax(z) into p (len(p) == len(z)) and returns
// log-sum-exp(z).
func Into(z, p []float64) float64 {
	mx := max64(z)
	s := 0.0
	for j, v := range z {
		p[j] = math.Exp(v - mx)
		s += p[j]
	}
	for j := range p {
		p[j] /= s
	}
	return mx + math.Log(s)
}

// LogSumExp returns log(sum_j exp(z_j)).
func LogSumExp(z []float64) float64 {
	mx := max64(z)
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - mx)
	}
	return mx + math.Log(s)
}

// Log writes log softmax(z) into out (which may alias z).
func Log(z, out []float64) {
	lse := LogSumExp(z)
	for j, v := range z {
		out[j] = v - lse
	}
}

// Rows returns the softmax of each row of n x k row-major logits.
func Rows(z []float64, n, k int) []float64 {
	out := make([]float64, len(z))
	for i := 0; i < n; i++ {
		Into(z[i*k:(i+1)*k], out[i*k:(i+1)*k])
	}
	return out
}

// LogRows returns the log-softmax of each row of n x k row-major logits.
func LogRows(z []float64, n, k int) []float64 {
	out := make([]float64, len(z))
	for i := 0; i < n; i++ {
		Log(z[i*k:(i+1)*k], out[i*k:(i+1)*k])
	}
	return out
}

func max64(z []float64) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v)
	}
	return mx
}

// Accumulate adds softmax(z) to acc.
func Accumulate(z, acc []float64) {
	mx := max64(z)
	s := 0.0
	for _, v := range z {
		s += math.Exp(v - mx)
	}
	for j, v := range z {
		acc[j] += math.Exp(v-mx) / s
	}
}
