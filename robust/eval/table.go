package eval

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes r as plain text: the settings, the clean accuracy, a
// table of robust accuracy per epsilon and attack with the worst case, the
// median and mean perturbation norms of successful attacks, the sanity
// checks and the cost.
func (r *Report) WriteTable(w io.Writer) error {
	st := r.Settings
	var b strings.Builder
	fmt.Fprintf(&b, "suite %q, %s norm, examples [%d, %d) of %d (dataset of %d), batch %d, seed %d\n",
		st.Suite, st.Norm, st.Shard.Begin, st.Shard.End, st.Examples, st.DatasetLen, st.BatchSize, st.Seed)
	if r.MergedFrom > 0 {
		fmt.Fprintf(&b, "merged from %d shards\n", r.MergedFrom)
	}
	fmt.Fprintf(&b, "model %s, %d classes, bounds [%v, %v]\n", st.Model.Type, st.Model.Classes, st.Model.Bounds[0], st.Model.Bounds[1])
	fmt.Fprintf(&b, "clean accuracy %s (%d/%d)\n\n", percent(r.Clean.Accuracy), r.Clean.Correct, r.Clean.Total)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	b.WriteString("robust accuracy\n")
	header := "eps\t"
	for _, a := range st.Attacks {
		header += a.Name + "\t"
	}
	fmt.Fprintln(tw, header+"worst case\t")
	for _, res := range r.Results {
		line := epsLabel(res) + "\t"
		for _, a := range res.Attacks {
			line += percent(a.Robust.Accuracy) + "\t"
		}
		fmt.Fprintln(tw, line+percent(res.WorstCase.Accuracy)+"\t")
	}
	tw.Flush()

	fmt.Fprintf(&b, "\nmedian / mean %s norm of successful attacks\n", st.Norm)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.TrimSuffix(header, "\t")+"\t")
	for _, res := range r.Results {
		line := epsLabel(res) + "\t"
		for _, a := range res.Attacks {
			if a.Successes == 0 {
				line += "-\t"
				continue
			}
			line += fmt.Sprintf("%.4g / %.4g\t", a.MedianNorm, a.MeanNorm)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	b.WriteString("\nsanity checks\n")
	for _, f := range r.Sanity {
		mark := "ok  "
		switch {
		case !f.Checked:
			mark = "--  "
		case f.Tripped:
			mark = "FLAG"
		}
		fmt.Fprintf(&b, "  %s %-24s %s\n", mark, f.Name, f.Detail)
	}

	c := r.Cost
	fmt.Fprintf(&b, "\ncost %.1f s; Logits %d calls on %d images, LossGrad %d calls on %d images\n",
		c.Seconds, c.Total.Logits, c.Total.LogitsImages, c.Total.Grad, c.Total.GradImages)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "attack\teps\tseconds\tLogits images\tLossGrad images\t")
	for _, rc := range c.Runs {
		fmt.Fprintf(tw, "%s\t%v\t%.1f\t%d\t%d\t\n", rc.Attack, rc.Eps, rc.Seconds, rc.Calls.LogitsImages, rc.Calls.GradImages)
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func percent(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func epsLabel(res EpsResult) string {
	if res.LargeEpsCheck {
		return fmt.Sprintf("%v (check)", res.Eps)
	}
	return fmt.Sprint(res.Eps)
}
