package smoothing_test

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/defense/smoothing"
	"github.com/gorobust/gorobust/robust"
)

// threshold is a base classifier on one-pixel images: class 1 when the
// pixel exceeds 0.5. Under noise sigma, P(class 1 at x) = Phi((x-0.5)/sigma),
// so the smoothed classifier's true robust radius at x is |x - 0.5|.
type threshold struct{}

func (threshold) NumClasses() int       { return 2 }
func (threshold) Bounds() robust.Bounds { return robust.Bounds{Min: -10, Max: 10} }
func (threshold) Logits(_ context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	pix, ok := x.Data().([]float32)
	if s := x.Shape(); !ok || len(s) != 4 || s[1]*s[2]*s[3] != 1 {
		return nil, fmt.Errorf("threshold: want float32 N x 1 x 1 x 1 images, got %v %v: %w", x.Dtype(), s, robust.ErrShape)
	}
	z := make([]float32, 2*len(pix))
	for i, v := range pix {
		z[2*i+1] = v - 0.5
	}
	return tensor.New(tensor.WithShape(len(pix), 2), tensor.WithBacking(z)), nil
}

func ExampleSmoothed_Certify() {
	s, err := smoothing.New(threshold{}, 0.5, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.New(tensor.WithShape(3, 1, 1, 1), tensor.WithBacking([]float32{0.9, 0.2, 0.52}))
	certs, err := s.Certify(context.Background(), x, 100, 100000, 0.001)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, c := range certs {
		fmt.Printf("x = %.2f: class %d, certified radius %.3f (true radius %.3f)\n",
			x.Data().([]float32)[i], c.Class, c.Radius, []float64{0.4, 0.3, 0.02}[i])
	}
	// Output:
	// x = 0.90: class 1, certified radius 0.396 (true radius 0.400)
	// x = 0.20: class 0, certified radius 0.296 (true radius 0.300)
	// x = 0.52: class -1, certified radius 0.000 (true radius 0.020)
}
