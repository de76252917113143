package defense

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/data/mnist"
)

// The golden files of testdata/jpeg were made by generate.sh with
// libjpeg-turbo 2.1.5's cjpeg and djpeg (see VERSION); these numbers match
// its loops and mkinputs.
const (
	goldenDir  = "testdata/jpeg"
	goldenGray = 8 // grey images gray0..gray7: MNIST test images 0..7
	goldenRGB  = 3 // colour images rgb0..rgb2: test images 3i, 3i+1, 3i+2 as R, G, B
)

var goldenQualities = []int{10, 20, 50, 75, 95}

// pnm is a decoded binary PGM (P5, c = 1) or PPM (P6, c = 3) image with
// interleaved samples.
type pnm struct {
	c, w, h int
	pix     []byte
}

func readPNM(t *testing.T, path string) pnm {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The header is four white-space separated fields: magic, width,
	// height, maxval, then exactly one white-space byte.
	var fields []string
	i := 0
	for len(fields) < 4 {
		for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
			i++
		}
		j := i
		for j < len(b) && !(b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t') {
			j++
		}
		if j == i {
			t.Fatalf("%s: truncated header", path)
		}
		fields = append(fields, string(b[i:j]))
		i = j
	}
	i++
	p := pnm{c: map[string]int{"P5": 1, "P6": 3}[fields[0]]}
	p.w, _ = strconv.Atoi(fields[1])
	p.h, _ = strconv.Atoi(fields[2])
	if p.c == 0 || fields[3] != "255" || len(b)-i != p.c*p.w*p.h {
		t.Fatalf("%s: unexpected header %q with %d bytes of pixels", path, fields, len(b)-i)
	}
	p.pix = b[i:]
	return p
}

// planar returns the image as a 1 x C x H x W tensor in [0, 1].
func (p pnm) planar() *tensor.Dense {
	v := make([]float32, len(p.pix))
	plane := p.w * p.h
	for j := 0; j < plane; j++ {
		for ch := 0; ch < p.c; ch++ {
			v[ch*plane+j] = float32(p.pix[j*p.c+ch]) / 255
		}
	}
	return tensor.New(tensor.WithShape(1, p.c, p.h, p.w), tensor.WithBacking(v))
}

// dqt returns the quantisation tables of a JPEG file by table id, in the
// zig-zag order of the file, failing on 16-bit tables.
func dqt(t *testing.T, b []byte) map[int][64]int {
	t.Helper()
	tables := map[int][64]int{}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			t.Fatalf("no marker at byte %d", i)
		}
		marker := b[i+1]
		if marker == 0xda { // start of scan: the tables come before it
			break
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		seg := b[i+4 : i+2+n]
		if marker == 0xdb {
			for len(seg) > 0 {
				if seg[0]>>4 != 0 {
					t.Fatalf("16-bit quantisation table %d", seg[0]&15)
				}
				var q [64]int
				for k := range q {
					q[k] = int(seg[1+k])
				}
				tables[int(seg[0]&15)] = q
				seg = seg[65:]
			}
		}
		i += 2 + n
	}
	return tables
}

// TestJPEGQuantTablesMatchLibjpeg compares, at every quality from 10 to 95,
// the tables image/jpeg writes with those of cjpeg -baseline.
func TestJPEGQuantTablesMatchLibjpeg(t *testing.T) {
	src := readPNM(t, filepath.Join(goldenDir, "src", "rgb0.ppm"))
	img := toImage(src.planar().Data().([]float32), 3, src.h, src.w, robust.UnitBounds)
	for q := 10; q <= 95; q++ {
		ref, err := os.ReadFile(filepath.Join(goldenDir, "qtables", fmt.Sprintf("q%d.jpg", q)))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		want, got := dqt(t, ref), dqt(t, buf.Bytes())
		if len(want) != 2 || len(got) != 2 {
			t.Fatalf("quality %d: %d tables from libjpeg, %d from image/jpeg, want 2", q, len(want), len(got))
		}
		for id, tab := range want {
			if got[id] != tab {
				t.Errorf("quality %d, table %d:\n image/jpeg %v\n libjpeg    %v", q, id, got[id], tab)
			}
		}
	}
}

// goldenCase is one golden JPEG file and djpeg -dct int's decoding of it.
type goldenCase struct {
	name    string // e.g. gray3_q20
	src     string // the source image under src/
	quality int
	colour  bool
}

func goldenCases() []goldenCase {
	var cs []goldenCase
	for _, q := range goldenQualities {
		for i := 0; i < goldenGray; i++ {
			cs = append(cs, goldenCase{fmt.Sprintf("gray%d_q%d", i, q), fmt.Sprintf("gray%d.pgm", i), q, false})
		}
		for i := 0; i < goldenRGB; i++ {
			cs = append(cs, goldenCase{fmt.Sprintf("rgb%d_q%d", i, q), fmt.Sprintf("rgb%d.ppm", i), q, true})
		}
	}
	return cs
}

// levelDiff returns the largest difference in grey levels between two
// sample slices in [0, 1], and how many samples differ.
func levelDiff(a, b []float32) (worst, differ int) {
	for j := range a {
		d := int(a[j]*255+0.5) - int(b[j]*255+0.5)
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
		if d > 0 {
			differ++
		}
	}
	return worst, differ
}

// TestJPEGDecodeMatchesLibjpeg decodes libjpeg's files with the decoding
// path of JPEG.Apply and compares the samples with djpeg -dct int: grey
// images and the luminance of colour images within one grey level, colour
// images within two, because a one-level difference between the two IDCTs
// in a chroma sample moves blue by 1.772 levels (JFIF conversion).
func TestJPEGDecodeMatchesLibjpeg(t *testing.T) {
	worstGrey, worstY, worstRGB := 0, 0, 0
	for _, tc := range goldenCases() {
		b, err := os.ReadFile(filepath.Join(goldenDir, "decode", tc.name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ext := map[bool]string{false: ".pgm", true: ".ppm"}[tc.colour]
		ref := readPNM(t, filepath.Join(goldenDir, "decode", tc.name+ext))
		got := make([]float32, len(ref.pix))
		if err := fromImage(img, got, ref.c, ref.h, ref.w, robust.UnitBounds); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		worst, _ := levelDiff(got, ref.planar().Data().([]float32))
		if !tc.colour {
			worstGrey = max(worstGrey, worst)
			if worst > 1 {
				t.Errorf("%s: differs from djpeg -dct int by %d grey levels, want at most 1", tc.name, worst)
			}
			continue
		}
		worstRGB = max(worstRGB, worst)
		if worst > 2 {
			t.Errorf("%s: RGB differs from djpeg -dct int -nosmooth by %d levels, want at most 2", tc.name, worst)
		}
		yRef := readPNM(t, filepath.Join(goldenDir, "decode", tc.name+"_y.pgm"))
		m := img.(*image.YCbCr)
		y := make([]float32, len(yRef.pix))
		for j := range y {
			y[j] = float32(m.Y[m.YOffset(j%yRef.w, j/yRef.w)]) / 255
		}
		worst, _ = levelDiff(y, yRef.planar().Data().([]float32))
		worstY = max(worstY, worst)
		if worst > 1 {
			t.Errorf("%s: luminance differs from djpeg -dct int -grayscale by %d levels, want at most 1", tc.name, worst)
		}
	}
	t.Logf("largest differences from djpeg -dct int: grey %d, colour luminance %d, colour RGB %d levels", worstGrey, worstY, worstRGB)
}

// TestJPEGMatchesLibjpegRoundTrip compares JPEG.Apply on the MNIST images
// with libjpeg's own round trip, cjpeg then djpeg -dct int. The encoders
// share the DCT (image/jpeg's is a translation of libjpeg's jfdctint) and
// the tables, so almost every sample agrees. Colour is not compared: the
// two encoders subsample chroma differently.
func TestJPEGMatchesLibjpegRoundTrip(t *testing.T) {
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	worst, differ, total := 0, 0, 0
	for _, tc := range goldenCases() {
		if tc.colour {
			continue
		}
		src := readPNM(t, filepath.Join(goldenDir, "src", tc.src))
		var i int
		fmt.Sscanf(tc.src, "gray%d", &i)
		px, err := test.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(px, src.pix) {
			t.Fatalf("%s is not MNIST test image %d", tc.src, i)
		}
		out, err := JPEG{Quality: tc.quality}.Apply(context.Background(), src.planar(), robust.UnitBounds, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := readPNM(t, filepath.Join(goldenDir, "decode", tc.name+".pgm")).planar().Data().([]float32)
		w, d := levelDiff(out.Data().([]float32), want)
		worst, differ, total = max(worst, w), differ+d, total+len(want)
	}
	t.Logf("JPEG.Apply vs cjpeg | djpeg -dct int: %d of %d samples differ, by at most %d", differ, total, worst)
	// Measured: 419 of 31360 samples (1.3%) differ, by at most 2 levels.
	if worst > 2 || float64(differ) > 0.03*float64(total) {
		t.Errorf("%d of %d samples differ by up to %d levels, want at most 3%% and 2 levels", differ, total, worst)
	}
}
