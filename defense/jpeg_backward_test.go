package defense

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust"
)

// softJPEG is the smooth JPEG whose backward pass ApproxBackward is, on
// continuous grey levels (h x w, edge-padded to whole blocks, unclipped).
func softJPEG(levels []float64, h, w, quality int) []float64 {
	return softPlane(levels, h, w, jpegTable(&jpegLumaBase, quality), 128)
}

// softPlane is softJPEG on one plane of values shifted by shift around 0,
// quantised by q.
func softPlane(levels []float64, h, w int, q [64]float64, shift float64) []float64 {
	out := make([]float64, len(levels))
	var blk, coef [64]float64
	for by := 0; by < (h+7)/8; by++ {
		for bx := 0; bx < (w+7)/8; bx++ {
			for r := 0; r < 8; r++ {
				for s := 0; s < 8; s++ {
					blk[r*8+s] = levels[min(by*8+r, h-1)*w+min(bx*8+s, w-1)] - shift
				}
			}
			dct8x8(&blk, &coef)
			for k := range coef {
				z := coef[k] / q[k]
				e := z - math.Round(z)
				coef[k] = (math.Round(z) + e*e*e) * q[k]
			}
			idct8x8(&coef, &blk)
			for r := 0; r < 8; r++ {
				for s := 0; s < 8; s++ {
					if yy, xx := by*8+r, bx*8+s; yy < h && xx < w {
						out[yy*w+xx] = blk[r*8+s] + shift
					}
				}
			}
		}
	}
	return out
}

// softJPEGColour is the smooth JPEG of a planar RGB image of continuous
// levels, written out as image/jpeg's pipeline: JFIF YCbCr, the luminance
// as softJPEG, chroma averaged over 2 x 2 pixels of the image padded to
// whole 16 x 16 macroblocks, smoothed per 8 x 8 block with the chrominance
// table, repeated over 2 x 2 pixels, and back to RGB.
func softJPEGColour(levels []float64, h, w, quality int) []float64 {
	n := h * w
	at := func(ch, y, x int) float64 { return levels[ch*n+min(y, h-1)*w+min(x, w-1)] }
	ycc := func(k, y, x int) float64 {
		m := [3][3]float64{{0.299, 0.587, 0.114}, {-0.168736, -0.331264, 0.5}, {0.5, -0.418688, -0.081312}}
		return m[k][0]*at(0, y, x) + m[k][1]*at(1, y, x) + m[k][2]*at(2, y, x)
	}
	lum := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			lum[y*w+x] = ycc(0, y, x)
		}
	}
	lum = softJPEG(lum, h, w, quality)
	mh, mw := 16*((h+15)/16), 16*((w+15)/16)
	var chroma [3][]float64
	for k := 1; k < 3; k++ {
		low := make([]float64, mh/2*mw/2)
		for v := 0; v < mh/2; v++ {
			for u := 0; u < mw/2; u++ {
				low[v*mw/2+u] = (ycc(k, 2*v, 2*u) + ycc(k, 2*v, 2*u+1) + ycc(k, 2*v+1, 2*u) + ycc(k, 2*v+1, 2*u+1)) / 4
			}
		}
		chroma[k] = softPlane(low, mh/2, mw/2, jpegTable(&jpegChromaBase, quality), 0)
	}
	out := make([]float64, 3*n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			l, cb, cr := lum[y*w+x], chroma[1][y/2*mw/2+x/2], chroma[2][y/2*mw/2+x/2]
			out[y*w+x] = l + 1.402*cr
			out[n+y*w+x] = l - 0.34414*cb - 0.71414*cr
			out[2*n+y*w+x] = l + 1.772*cb
		}
	}
	return out
}

// checkVJP compares ApproxBackward on a random c x h x w image at integer
// levels (where the 8-bit rounding of the input is exact) with central
// differences of soft, and returns the image and the gradient it used.
func checkVJP(t *testing.T, c, h, w, quality int, soft func(levels []float64, h, w, quality int) []float64) (x, g *tensor.Dense) {
	t.Helper()
	n := c * h * w
	rng := rand.New(rand.NewPCG(uint64(h), uint64(c*1000+w)))
	levels := make([]float64, n)
	x32 := make([]float32, n)
	gs, v := make([]float64, n), make([]float64, n)
	for i := range levels {
		levels[i] = float64(rng.IntN(256))
		x32[i] = float32(levels[i] / 255)
		gs[i], v[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	x = tensor.New(tensor.WithShape(1, c, h, w), tensor.WithBacking(x32))
	g = tensor.New(tensor.WithShape(1, c, h, w), tensor.WithBacking(gs))
	// A negligible floor makes the pass the exact derivative 3(z-round z)^2.
	back, err := JPEG{Quality: quality, BackwardFloor: 1e-12}.ApproxBackward(context.Background(), x, robust.UnitBounds, 0, g)
	if err != nil {
		t.Fatal(err)
	}
	const step = 1e-5
	plus, minus := make([]float64, n), make([]float64, n)
	for i := range levels {
		plus[i], minus[i] = levels[i]+step*v[i], levels[i]-step*v[i]
	}
	fp, fm := soft(plus, h, w, quality), soft(minus, h, w, quality)
	lhs, rhs := 0.0, 0.0
	for i := range levels {
		lhs += gs[i] * (fp[i] - fm[i]) / (2 * step)
		rhs += float64(data32(t, back)[i]) * v[i]
	}
	t.Logf("%d x %d x %d: <g, J v> = %v, <J^T g, v> = %v", c, h, w, lhs, rhs)
	if math.Abs(lhs-rhs) > 1e-4*math.Max(1, math.Abs(lhs)) {
		t.Errorf("%d x %d x %d: <g, J v> = %v by differences, <J^T g, v> = %v", c, h, w, lhs, rhs)
	}
	return x, g
}

// TestJPEGApproxBackwardIsTheSmoothJPEGsVJP checks the grey pass against
// central differences of the smooth JPEG, on an image whose sides are not
// multiples of 8 (edge padding).
func TestJPEGApproxBackwardIsTheSmoothJPEGsVJP(t *testing.T) {
	const quality = 20
	x, g := checkVJP(t, 1, 13, 20, quality, softJPEG)
	// Floor 1 weighs every coefficient 1: the pass is the identity.
	id, err := JPEG{Quality: quality, BackwardFloor: 1}.ApproxBackward(context.Background(), x, robust.UnitBounds, 0, g)
	if err != nil {
		t.Fatal(err)
	}
	for i, gv := range g.Data().([]float64) {
		if d := math.Abs(float64(data32(t, id)[i]) - gv); d > 1e-5 {
			t.Fatalf("floor 1: gradient[%d] = %v, want %v", i, data32(t, id)[i], gv)
		}
	}
}

// TestJPEGApproxBackwardColourIsTheSmoothJPEGsVJP checks the colour pass
// against central differences of softJPEGColour, at sizes that exercise
// odd sides, partial macroblocks and whole ones.
func TestJPEGApproxBackwardColourIsTheSmoothJPEGsVJP(t *testing.T) {
	for _, size := range [][2]int{{13, 22}, {18, 20}, {16, 16}, {5, 3}} {
		checkVJP(t, 3, size[0], size[1], 30, softJPEGColour)
	}
}

// TestJPEGSmoothColourTracksImageJPEG checks that the smooth colour model
// is a model of what Apply does: on a smooth image, where JPEG changes
// little, softJPEGColour and image/jpeg's round trip agree to a few
// levels, far closer than either is to the input would suggest by chance.
func TestJPEGSmoothColourTracksImageJPEG(t *testing.T) {
	const h, w, quality = 24, 40, 50
	n := h * w
	levels := make([]float64, 3*n)
	x32 := make([]float32, 3*n)
	for ch := 0; ch < 3; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := math.Round(127 + 100*math.Sin(float64(x)/(5+float64(ch))+float64(y)/7))
				levels[ch*n+y*w+x] = v
				x32[ch*n+y*w+x] = float32(v / 255)
			}
		}
	}
	soft := softJPEGColour(levels, h, w, quality)
	out, err := JPEG{Quality: quality}.Apply(context.Background(), tensor.New(tensor.WithShape(1, 3, h, w), tensor.WithBacking(x32)), robust.UnitBounds, 0)
	if err != nil {
		t.Fatal(err)
	}
	model, input := 0.0, 0.0
	for i, v := range data32(t, out) {
		model += math.Abs(float64(v)*255 - soft[i])
		input += math.Abs(float64(v)*255 - levels[i])
	}
	model, input = model/float64(3*n), input/float64(3*n)
	t.Logf("mean |JPEG - smooth model| = %.2f levels, |JPEG - input| = %.2f levels", model, input)
	if model > 0.5*input {
		t.Errorf("the smooth model is %.2f levels from image/jpeg's output, the input %.2f: want the model far closer", model, input)
	}
}

func TestJPEGApproxBackwardErrors(t *testing.T) {
	ctx := context.Background()
	x, _ := mnistImages(t, 2)
	g := tensor.New(tensor.WithShape(x.Shape()...), tensor.Of(tensor.Float32))
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := (JPEG{BackwardFloor: f}).ApproxBackward(ctx, x, robust.UnitBounds, 0, g); !errors.Is(err, robust.ErrConfig) {
			t.Errorf("BackwardFloor %v: got %v, want ErrConfig", f, err)
		}
	}
	if _, err := (JPEG{}).ApproxBackward(ctx, x, robust.UnitBounds, 0, tensor.New(tensor.WithShape(1, 1, 28, 28), tensor.Of(tensor.Float32))); !errors.Is(err, robust.ErrShape) {
		t.Errorf("gradient of another shape: got %v, want ErrShape", err)
	}
	before := clone(x)
	if _, err := (JPEG{}).ApproxBackward(ctx, x, robust.UnitBounds, 0, g); err != nil {
		t.Fatal(err)
	}
	if !equal32(data32(t, x), data32(t, before)) {
		t.Error("ApproxBackward modified its input")
	}
}

// TestJPEGBPDAApproximationIsStronger measures, on 100 MNIST test images at
// Linf eps 0.1, what the smooth JPEG's backward pass adds over the identity:
// the same PGD breaks clearly more examples with it.
func TestJPEGBPDAApproximationIsStronger(t *testing.T) {
	if testing.Short() {
		t.Skip("attacks the MNIST model")
	}
	m := standardModel(t)
	x, y := mnistImages(t, 100)
	atk := attack.PGD{Eps: 0.1, Steps: 40, Seed: 1, StopOnSuccess: true}
	rob := map[string]float64{}
	for name, jpeg := range map[string]Preprocessor{"approximation": JPEG{Quality: 20}, "identity": identityBackward{JPEG{Quality: 20}}} {
		p := mustProtect(t, m, nil, jpeg)
		adv, err := atk.Perturb(context.Background(), p, x, y)
		if err != nil {
			t.Fatal(err)
		}
		rob[name] = accuracy(t, p, adv, y)
	}
	t.Logf("JPEG q=20, PGD-40 at eps 0.1: accuracy %.2f with the approximation, %.2f with the identity", rob["approximation"], rob["identity"])
	if rob["approximation"] > rob["identity"]-0.1 {
		t.Errorf("accuracy %.2f with the approximation, %.2f with the identity: want at least 10 points lower", rob["approximation"], rob["identity"])
	}
}

// TestJPEGTablesMatchImageJPEG checks the quantisation tables the backward
// pass divides by against the ones image/jpeg writes, at every quality
// (the file stores them in zig-zag order).
func TestJPEGTablesMatchImageJPEG(t *testing.T) {
	// zigzag[k] is the natural (row-major) index of zig-zag position k.
	var zigzag [64]int
	k := 0
	for sum := 0; sum < 15; sum++ {
		for i := 0; i <= sum; i++ {
			r := i
			if sum%2 == 0 {
				r = sum - i
			}
			if c := sum - r; r < 8 && c < 8 {
				zigzag[k] = r*8 + c
				k++
			}
		}
	}
	img := toImage(make([]float32, 3*64), 3, 8, 8, robust.UnitBounds)
	for q := 1; q <= 100; q++ {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		tables := dqt(t, buf.Bytes())
		for id, base := range []*[64]int{&jpegLumaBase, &jpegChromaBase} {
			ours := jpegTable(base, q)
			for k, v := range tables[id] {
				if ours[zigzag[k]] != float64(v) {
					t.Fatalf("quality %d, table %d, zig-zag position %d: table %v, image/jpeg writes %d", q, id, k, ours[zigzag[k]], v)
				}
			}
		}
	}
}
