package eval

import (
	"fmt"
	"slices"
	"strings"
)

// summarize computes r's Clean, Results and Sanity from its Settings and
// Examples alone, so that a single run and a merge of shards agree exactly.
func summarize(r *Report) {
	st := &r.Settings
	n := len(r.Examples)
	r.Clean = Accuracy{Total: n}
	for _, ex := range r.Examples {
		if ex.CleanPred == ex.Label {
			r.Clean.Correct++
		}
	}
	r.Clean.Accuracy = fraction(r.Clean.Correct, n)

	eps := append([]float64(nil), st.Epsilons...)
	if st.LargeEps > 0 {
		eps = append(eps, st.LargeEps)
	}
	r.Results = make([]EpsResult, len(eps))
	for ei, e := range eps {
		res := EpsResult{Eps: e, LargeEpsCheck: ei >= len(st.Epsilons), WorstCase: Accuracy{Total: n}}
		norms := make([][]float64, len(st.Attacks))
		res.Attacks = make([]AttackResult, len(st.Attacks))
		for a, info := range st.Attacks {
			res.Attacks[a] = AttackResult{Name: info.Name, Robust: Accuracy{Total: n}}
		}
		for _, ex := range r.Examples {
			if ex.CleanPred != ex.Label {
				continue
			}
			robust, whiteBroke, blackBroke := true, false, false
			for a, o := range ex.Outcomes[ei] {
				ar := &res.Attacks[a]
				ar.Attacked++
				if o.Pred == ex.Label {
					ar.Robust.Correct++
					continue
				}
				robust = false
				ar.Successes++
				norms[a] = append(norms[a], o.Norm)
				if st.Attacks[a].BlackBox {
					blackBroke = true
				} else {
					whiteBroke = true
				}
			}
			if robust {
				res.WorstCase.Correct++
			}
			if blackBroke && !whiteBroke {
				res.BlackBoxOnly++
			}
		}
		for a := range res.Attacks {
			ar := &res.Attacks[a]
			ar.Robust.Accuracy = fraction(ar.Robust.Correct, n)
			ar.MeanNorm, ar.MedianNorm = meanMedian(norms[a])
		}
		res.WorstCase.Accuracy = fraction(res.WorstCase.Correct, n)
		r.Results[ei] = res
	}
	r.Sanity = sanity(r)
}

func fraction(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// meanMedian returns the mean and median of v, or zeros for an empty v. The
// sum runs in sorted order so that the result does not depend on the order
// of the examples.
func meanMedian(v []float64) (mean, median float64) {
	if len(v) == 0 {
		return 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	h := len(s) / 2
	median = s[h]
	if len(s)%2 == 0 {
		median = (s[h-1] + s[h]) / 2
	}
	return sum / float64(len(s)), median
}

// sanity runs every check on a summarised report, in the order of the Flag
// constants.
func sanity(r *Report) []Flag {
	n := len(r.Examples)
	var probs, stoch, withGrad, zero, zeroCE, nonFinite int
	for _, ex := range r.Examples {
		if ex.Probabilities {
			probs++
		}
		if ex.Stochastic {
			stoch++
		}
		switch ex.Gradient {
		case "":
			continue
		case GradientZero:
			zero++
		case GradientZeroCE:
			zeroCE++
		case GradientNonFinite:
			nonFinite++
		}
		withGrad++
	}
	flags := []Flag{
		{Name: FlagProbabilities, Checked: n > 0, Tripped: 2*probs > n,
			Detail: fmt.Sprintf("%d of %d output rows lie in [0, 1] and sum to 1", probs, n)},
		{Name: FlagStochastic, Checked: n > 0, Tripped: stoch > 0,
			Detail: fmt.Sprintf("%d of %d examples got different outputs from two identical forward passes", stoch, n)},
	}
	if withGrad == 0 {
		no := "not checked: the model provides no gradients"
		if n == 0 {
			no = "not checked: no examples"
		}
		flags = append(flags, Flag{Name: FlagZeroGradient, Detail: no}, Flag{Name: FlagNonFiniteGradient, Detail: no})
	} else {
		flags = append(flags,
			Flag{Name: FlagZeroGradient, Checked: true, Tripped: zero > 0,
				Detail: fmt.Sprintf("%d of %d examples have a zero margin-loss gradient at the clean input "+
					"(%d more only a zero cross-entropy gradient, a saturated softmax)", zero, withGrad, zeroCE)},
			Flag{Name: FlagNonFiniteGradient, Checked: true, Tripped: nonFinite > 0,
				Detail: fmt.Sprintf("%d of %d examples have a non-finite loss gradient at the clean input", nonFinite, withGrad)})
	}
	return append(flags, maskingFlag(r), monotoneFlag(r), largeEpsFlag(r))
}

func maskingFlag(r *Report) Flag {
	f := Flag{Name: FlagGradientMasking}
	var black, white bool
	for _, a := range r.Settings.Attacks {
		black = black || a.BlackBox
		white = white || !a.BlackBox
	}
	if !black || !white {
		f.Detail = "not checked: the suite needs both a black-box and a gradient attack"
		return f
	}
	f.Checked = true
	var parts []string
	for _, res := range r.Results {
		if res.BlackBoxOnly > 0 {
			parts = append(parts, fmt.Sprintf("%d at eps %v", res.BlackBoxOnly, res.Eps))
		}
	}
	if len(parts) == 0 {
		f.Detail = "no example was broken by a black-box attack alone"
		return f
	}
	f.Tripped = true
	f.Detail = "examples broken by a black-box attack but by no gradient attack: " + strings.Join(parts, ", ")
	return f
}

// monotoneFlag trips when the worst case rises with eps. A single attack's
// accuracy rising is only noted: single-step attacks such as FGSM are known
// to weaken at large budgets without anything being wrong with the model.
func monotoneFlag(r *Report) Flag {
	f := Flag{Name: FlagEpsNotMonotone}
	curve := r.Results
	if len(curve) < 2 {
		f.Detail = "not checked: fewer than two epsilons"
		return f
	}
	f.Checked = true
	rises := func(name string, acc func(EpsResult) Accuracy) []string {
		var parts []string
		for i := 1; i < len(curve); i++ {
			if a, b := acc(curve[i-1]), acc(curve[i]); b.Correct > a.Correct {
				parts = append(parts, fmt.Sprintf("%s from %d at eps %v to %d at eps %v", name, a.Correct, curve[i-1].Eps, b.Correct, curve[i].Eps))
			}
		}
		return parts
	}
	worst := rises("worst case", func(e EpsResult) Accuracy { return e.WorstCase })
	var single []string
	for a, info := range r.Settings.Attacks {
		single = append(single, rises(info.Name, func(e EpsResult) Accuracy { return e.Attacks[a].Robust })...)
	}
	f.Tripped = len(worst) > 0
	switch {
	case f.Tripped:
		f.Detail = "robust examples rise with eps: " + strings.Join(append(worst, single...), "; ")
	case len(single) > 0:
		f.Detail = "the worst case never rises with eps (single attacks do: " + strings.Join(single, "; ") + ")"
	default:
		f.Detail = "robust accuracy never rises with eps"
	}
	return f
}

func largeEpsFlag(r *Report) Flag {
	f := Flag{Name: FlagLargeEps}
	if r.Settings.LargeEps <= 0 || len(r.Results) == 0 || !r.Results[len(r.Results)-1].LargeEpsCheck {
		f.Detail = "not checked: the large-epsilon check was skipped"
		return f
	}
	if len(r.Examples) == 0 {
		f.Detail = "not checked: no examples"
		return f
	}
	res := r.Results[len(r.Results)-1]
	f.Checked = true
	f.Tripped = res.WorstCase.Accuracy > LargeEpsTolerance
	var per []string
	for _, a := range res.Attacks {
		per = append(per, fmt.Sprintf("%s %.4g", a.Name, a.Robust.Accuracy))
	}
	f.Detail = fmt.Sprintf("worst-case robust accuracy %.4g at eps %v (tolerance %v; per attack: %s)",
		res.WorstCase.Accuracy, res.Eps, LargeEpsTolerance, strings.Join(per, ", "))
	return f
}
