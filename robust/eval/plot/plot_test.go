package plot_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
	"github.com/gorobust/gorobust/robust/eval/plot"
)

// batch serves a fixed batch as a robust.Dataset.
type batch struct {
	x *tensor.Dense
	y []int
}

func (d batch) Len() int { return len(d.y) }

func (d batch) Batch(idx []int) (*tensor.Dense, []int, error) {
	s := d.x.Shape()
	per := s[1] * s[2] * s[3]
	var x []float32
	var y []int
	for _, i := range idx {
		x = append(x, d.x.Data().([]float32)[i*per:(i+1)*per]...)
		y = append(y, d.y[i])
	}
	return tensor.New(tensor.WithShape(len(idx), s[1], s[2], s[3]), tensor.WithBacking(x)), y, nil
}

func evaluated(t *testing.T) *eval.Report {
	t.Helper()
	m, x, y, err := testmodel.Trained(30)
	if err != nil {
		t.Fatal(err)
	}
	s := suite.Strong(0.05, 0.1)
	// Square's full 5000 queries would dominate the test's time under -race.
	s.Attacks[2].New = func(e float64) robust.Attack { return attack.Square{Eps: e, MaxQueries: 200} }
	r, err := eval.Evaluate(context.Background(), m, batch{x, y}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWritePlot(t *testing.T) {
	r := evaluated(t)
	var buf bytes.Buffer
	if err := plot.WritePlot(&buf, r, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("PNG of %v pixels", b)
	}
	buf.Reset()
	if err := plot.WritePlot(&buf, r, "svg"); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	for _, want := range []string{"<svg", "APGD-CE", "APGD-T", "Square (black box)", "worst case", "robust accuracy"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if err := plot.WritePlot(&buf, r, "bmp"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestSavePlot(t *testing.T) {
	r := evaluated(t)
	dir := t.TempDir()
	for _, name := range []string{"curve.png", "curve.svg"} {
		path := filepath.Join(dir, name)
		if err := plot.SavePlot(path, r); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v, %v", name, st, err)
		}
	}
	if err := plot.SavePlot(filepath.Join(dir, "curve"), r); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("no extension: %v", err)
	}
	if _, err := plot.Plot(&eval.Report{}); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("empty report: %v", err)
	}
}
