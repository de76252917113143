package testmodel

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/robust"
)

// BlobsClasses is the number of classes of the Blobs problem.
const BlobsClasses = 5

// The Blobs problem: 1 x 8 x 8 images in [0, 1], BlobsClasses classes, each
// class a mixture of 2 prototype images plus Gaussian pixel noise. Two
// prototypes per class make the classes not linearly separable in general,
// so a trained MLP is non-linear and iterative attacks have an edge over
// single-step ones. The training constants were picked to reach 100%
// held-out accuracy in well under a second.
const (
	blobsModes       = 2
	blobsNoise       = 0.12
	blobsProtoSeed   = 0x5eed
	blobsPrototypeLo = 0.15
	blobsPrototypeHi = 0.85
	blobsHidden      = 32
	blobsTrainSize   = 1000
	blobsTrainSeed   = 1
	blobsTestSeed    = 2
	blobsModelSeed   = 3
	blobsEpochs      = 20
	blobsBatch       = 20
	blobsRate        = 0.05
	blobsMomentum    = 0.9
)

// BlobsShape is the shape of one Blobs image.
var BlobsShape = Shape{C: 1, H: 8, W: 8}

// Blobs returns n labelled Blobs examples drawn with the given seed. The
// prototypes are the same for every seed, so different seeds give
// independent samples of one problem.
func Blobs(seed uint64, n int) (*tensor.Dense, []int, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("testmodel: Blobs needs n >= 1, got %d: %w", n, robust.ErrConfig)
	}
	d := BlobsShape.Size()
	protoRNG := rand.New(rand.NewPCG(blobsProtoSeed, 0))
	protos := make([]float64, BlobsClasses*blobsModes*d)
	for i := range protos {
		protos[i] = blobsPrototypeLo + (blobsPrototypeHi-blobsPrototypeLo)*protoRNG.Float64()
	}
	rng := rand.New(rand.NewPCG(seed, 0xb10b))
	x := make([]float32, n*d)
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(BlobsClasses)
		mode := rng.IntN(blobsModes)
		p := protos[(y[i]*blobsModes+mode)*d:][:d]
		for j, v := range p {
			x[i*d+j] = float32(math.Min(1, math.Max(0, v+blobsNoise*rng.NormFloat64())))
		}
	}
	s := BlobsShape
	return tensor.New(tensor.WithShape(n, s.C, s.H, s.W), tensor.WithBacking(x)), y, nil
}

// Trained returns an MLP (32 hidden units) fitted to 1000 Blobs examples
// with plain minibatch SGD, and n held-out Blobs examples. Everything is
// seeded, so every call returns the same model and data; it takes well
// under a second.
func Trained(n int) (*MLP, *tensor.Dense, []int, error) {
	m, err := New(Config{Shape: BlobsShape, Hidden: blobsHidden, Classes: BlobsClasses, Seed: blobsModelSeed})
	if err != nil {
		return nil, nil, nil, err
	}
	xt, yt, err := Blobs(blobsTrainSeed, blobsTrainSize)
	if err != nil {
		return nil, nil, nil, err
	}
	m.fit(widen(xt.Data().([]float32)), yt)
	x, y, err := Blobs(blobsTestSeed, n)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, x, y, nil
}

// fit runs minibatch SGD with momentum on the mean cross-entropy. The
// example order is reshuffled each epoch from a fixed seed.
func (m *MLP) fit(x []float64, y []int) {
	d, k, hn := m.shape.Size(), m.classes, m.hidden
	params := [][]float64{m.w1, m.b1, m.w2, m.b2}
	grads := make([][]float64, len(params))
	vel := make([][]float64, len(params))
	for i, p := range params {
		grads[i] = make([]float64, len(p))
		vel[i] = make([]float64, len(p))
	}
	gw1, gb1, gw2, gb2 := grads[0], grads[1], grads[2], grads[3]
	rng := rand.New(rand.NewPCG(blobsModelSeed, 0xf17))
	order := make([]int, len(y))
	for i := range order {
		order[i] = i
	}
	h := make([]float64, hn)
	z := make([]float64, k)
	dz := make([]float64, k)
	dh := make([]float64, hn)
	loss := make([]float64, 1)
	for range blobsEpochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += blobsBatch {
			batch := order[start:min(start+blobsBatch, len(order))]
			for _, g := range grads {
				clear(g)
			}
			for _, i := range batch {
				xi := x[i*d : (i+1)*d]
				m.forward(xi, h, z)
				obj := robust.Objective{Kind: robust.CrossEntropy, Labels: y[i : i+1]}
				obj.Eval(z, 1, k, loss, dz)
				clear(dh)
				for j, g := range dz {
					gb2[j] += g
					axpy(g, h, gw2[j*hn:(j+1)*hn])
					axpy(g, m.w2[j*hn:(j+1)*hn], dh)
				}
				for u, g := range dh {
					if h[u] > 0 {
						gb1[u] += g
						axpy(g, xi, gw1[u*d:(u+1)*d])
					}
				}
			}
			scale := blobsRate / float64(len(batch))
			for pi, p := range params {
				for j := range p {
					vel[pi][j] = blobsMomentum*vel[pi][j] - scale*grads[pi][j]
					p[j] += vel[pi][j]
				}
			}
		}
	}
}
