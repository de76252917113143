// Package plot draws an eval.Report as a plot of robust accuracy against
// epsilon, with gonum.org/v1/plot, in PNG, SVG or any other format that
// gonum's vg supports (pdf, eps, jpg, tif). It is a package of its own so
// that eval itself does not pull in the plotting libraries; the JSON and
// text forms of a report live in eval (Report.WriteJSON, Report.WriteTable).
//
// The plot has one line per attack and a thicker one for the per-example
// worst case over all attacks, each starting at the clean accuracy at
// epsilon 0. The large-epsilon sanity check is left out of the curve; the
// text table shows it.
//
// The functions only read the report and are safe for concurrent use.
package plot

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

// Default plot size.
const (
	Width  = 6 * vg.Inch
	Height = 4 * vg.Inch
)

// palette holds the attack lines' colours: the Okabe-Ito palette, which
// stays distinguishable to colour-blind readers.
var palette = []color.RGBA{
	{0xe6, 0x9f, 0x00, 0xff}, {0x56, 0xb4, 0xe9, 0xff}, {0x00, 0x9e, 0x73, 0xff},
	{0xd5, 0x5e, 0x00, 0xff}, {0xcc, 0x79, 0xa7, 0xff}, {0x00, 0x72, 0xb2, 0xff}, {0xf0, 0xe4, 0x42, 0xff},
}

// Plot returns the plot of r: robust accuracy against epsilon per attack
// and for the worst case. It returns an error for a report without any
// epsilon.
func Plot(r *eval.Report) (*plot.Plot, error) {
	if r == nil {
		return nil, fmt.Errorf("report: nil report: %w", robust.ErrConfig)
	}
	var curve []eval.EpsResult
	for _, res := range r.Results {
		if !res.LargeEpsCheck {
			curve = append(curve, res)
		}
	}
	if len(curve) == 0 {
		return nil, fmt.Errorf("report: the report has no epsilons to plot: %w", robust.ErrConfig)
	}
	st := r.Settings
	p := plot.New()
	title := "robust accuracy"
	if st.Suite != "" {
		title = fmt.Sprintf("suite %s", st.Suite)
	}
	p.Title.Text = fmt.Sprintf("%s: %d examples, clean accuracy %.2f%%", title, r.Clean.Total, 100*r.Clean.Accuracy)
	p.X.Label.Text = fmt.Sprintf("epsilon (%s)", st.Norm)
	p.Y.Label.Text = "robust accuracy"
	p.Title.Padding = vg.Points(6)
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min = 0
	p.Y.Tick.Marker = plot.ConstantTicks(accuracyTicks())
	p.X.Tick.Marker = plot.ConstantTicks(epsTicks(curve))
	p.Add(plotter.NewGrid())
	// Bottom left: every curve starts near the clean accuracy at eps 0, so
	// that corner stays empty unless the model is barely better than chance.
	p.Legend.Left = true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(12), vg.Points(8)

	line := func(acc func(eval.EpsResult) float64) plotter.XYs {
		xy := plotter.XYs{{X: 0, Y: r.Clean.Accuracy}}
		for _, res := range curve {
			xy = append(xy, plotter.XY{X: res.Eps, Y: acc(res)})
		}
		return xy
	}
	// The worst case goes first, thick and dashed, so that attack lines
	// that coincide with it stay visible on top of it.
	l, s, err := plotter.NewLinePoints(line(func(res eval.EpsResult) float64 { return res.WorstCase.Accuracy }))
	if err != nil {
		return nil, fmt.Errorf("report: worst case: %w", err)
	}
	l.Color, s.Color = color.Black, color.Black
	l.Width = vg.Points(3)
	l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	s.Shape = draw.BoxGlyph{}
	s.Radius = vg.Points(3)
	p.Add(l, s)
	p.Legend.Add("worst case", l, s)
	for a, info := range st.Attacks {
		l, s, err := plotter.NewLinePoints(line(func(res eval.EpsResult) float64 { return res.Attacks[a].Robust.Accuracy }))
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", info.Name, err)
		}
		c := palette[a%len(palette)]
		l.Color, s.Color = c, c
		l.Width = vg.Points(1.5)
		s.Shape = draw.CircleGlyph{}
		name := info.Name
		if info.BlackBox {
			name += " (black box)"
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
	}
	return p, nil
}

// accuracyTicks labels every tenth, as percentages.
func accuracyTicks() []plot.Tick {
	var t []plot.Tick
	for i := 0; i <= 10; i++ {
		t = append(t, plot.Tick{Value: float64(i) / 10, Label: fmt.Sprintf("%d%%", 10*i)})
	}
	return t
}

// epsTicks labels 0 and every epsilon of the curve.
func epsTicks(curve []eval.EpsResult) []plot.Tick {
	t := []plot.Tick{{Value: 0, Label: "0"}}
	for _, res := range curve {
		t = append(t, plot.Tick{Value: res.Eps, Label: strconv.FormatFloat(res.Eps, 'g', 4, 64)})
	}
	return t
}

// margin keeps the title clear of the top edge: gonum/plot draws the
// title's top at the canvas edge plus the font's descent, which clips it.
const margin = 6 * vg.Millimeter / 2

// writerTo draws the plot of r on a canvas of the given format.
func writerTo(r *eval.Report, format string) (io.WriterTo, error) {
	p, err := Plot(r)
	if err != nil {
		return nil, err
	}
	c, err := draw.NewFormattedCanvas(Width, Height, strings.ToLower(format))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	p.Draw(draw.Crop(draw.New(c), 0, 0, 0, -margin))
	return c, nil
}

// WritePlot writes the plot of r to w at the default size, in the given
// format: "png", "svg", "pdf", "eps", "jpg" or "tif".
func WritePlot(w io.Writer, r *eval.Report, format string) error {
	wt, err := writerTo(r, format)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("report: writing the plot: %w", err)
	}
	return nil
}

// SavePlot writes the plot of r to the file at path, in the format its
// extension names (".png", ".svg", ...). It replaces an existing file.
func SavePlot(path string, r *eval.Report) (err error) {
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	if format == "" {
		return fmt.Errorf("report: %s has no extension to choose a format by: %w", path, robust.ErrConfig)
	}
	wt, err := writerTo(r, format)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: %w", cerr)
		}
	}()
	if _, err := wt.WriteTo(f); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	return nil
}
