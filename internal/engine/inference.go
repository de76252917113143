// Inference: logits and input gradients in eval mode (dropout off), split
// into chunks of at most MaxChunkRows rows over the replicas.

package engine

import (
	"context"
	"fmt"

	"gorgonia.org/tensor"
)

// MaxChunkRows bounds the rows of one Logits or LossGrad program: a larger
// batch runs as several chunks of at most this many rows, in waves over the
// replicas. A program's buffers grow with its rows (for the reference CNN's
// forward and backward, by their sizes, about 0.2 MB a row), so without a
// bound one call on the 10,000 MNIST test images would build two 5,000-row
// programs of about 1 GB each, and keep them cached.
const MaxChunkRows = 128

// chunks splits n rows over the replicas, in chunks of at most MaxChunkRows.
func (net *Net) chunks(n int) [][2]int {
	return Split(n, max(net.workers, (n+MaxChunkRows-1)/MaxChunkRows))
}

// Logits returns the N x K logits of x.
func (net *Net) Logits(ctx context.Context, x *tensor.Dense) (*tensor.Dense, error) {
	n, err := net.checkInput(x)
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(net.dt), tensor.WithShape(n, net.classes))
	ranges := net.chunks(n)
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	err = net.parallel(ctx, ranges, func(r *replica, chunk int) error {
		a, b := ranges[chunk][0], ranges[chunk][1]
		p, err := net.program(r, progKey{forward, b - a})
		if err != nil {
			return err
		}
		net.sync(p)
		copyRows(p.xval, x, a, b, size)
		return p.run(func() error {
			z, err := net.nodeTensor(p.logits.Value())
			if err != nil {
				return err
			}
			pasteRows(out, z, a, b, net.classes)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LossGrad returns the per-example loss fn assigns to the logits of x and
// the gradient of the summed loss with respect to x. fn is called once per
// chunk with the chunk's first row.
func (net *Net) LossGrad(ctx context.Context, x *tensor.Dense, fn func(row0 int, logits []float64, n, k int, loss, grad []float64) error) ([]float64, *tensor.Dense, error) {
	n, err := net.checkInput(x)
	if err != nil {
		return nil, nil, err
	}
	loss := make([]float64, n)
	grad := tensor.New(tensor.Of(net.dt), tensor.WithShape(x.Shape().Clone()...))
	ranges := net.chunks(n)
	size := net.in.C * net.in.H * net.in.W
	net.mu.RLock()
	defer net.mu.RUnlock()
	err = net.parallel(ctx, ranges, func(r *replica, chunk int) error {
		a, b := ranges[chunk][0], ranges[chunk][1]
		p, err := net.program(r, progKey{inputGrad, b - a})
		if err != nil {
			return err
		}
		net.sync(p)
		copyRows(p.xval, x, a, b, size)
		p.loss.fn = func(logits []float64, n, k int, l, g []float64) error { return fn(a, logits, n, k, l, g) }
		return p.run(func() error {
			if err := lossValues(p.lossOut.Value(), loss[a:b]); err != nil {
				return err
			}
			gx, err := net.nodeTensor(p.xgrad.Value())
			if err != nil {
				return err
			}
			pasteRows(grad, gx, a, b, size)
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return loss, grad, nil
}

func lossValues(v any, dst []float64) error {
	t, ok := v.(*tensor.Dense)
	if !ok || t == nil {
		return fmt.Errorf("engine: unexpected loss value %T", v)
	}
	switch d := t.Data().(type) {
	case []float32:
		for i, x := range d {
			dst[i] = float64(x)
		}
	case []float64:
		copy(dst, d)
	default:
		return fmt.Errorf("engine: unexpected loss dtype %v", t.Dtype())
	}
	return nil
}
