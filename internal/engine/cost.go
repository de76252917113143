package engine

// Cost is what one example costs a network, computed from its layers
// before anything is allocated, so that an untrusted architecture can be
// refused before it runs.
type Cost struct {
	// MACs is the number of multiply-adds of one forward pass; a gradient
	// costs about twice as many more.
	MACs int64
	// Values is the number of values the buffers of one example's gradient
	// program hold: every layer's output and input gradient, and for a
	// convolution its receptive fields (im2col) and their gradient and the
	// position-major output and its gradient. A forward program holds
	// less. Multiply by the element size for bytes.
	Values int64
}

// CostOf returns the cost of one example of layers on input in; shapes
// are the output shapes Infer returned for them. Every factor is bounded
// by the caller's limits on channels, sides and kernels, so the sums fit
// an int64.
func CostOf(in Shape, layers []Layer, shapes []Shape) Cost {
	var c Cost
	s := in
	for i, l := range layers {
		out := shapes[i]
		o, x := int64(out.Size()), int64(s.Size())
		switch l.Kind {
		case Conv2D:
			pix := int64(out.H) * int64(out.W)
			kdim := int64(s.C) * int64(l.Kernel) * int64(l.Kernel)
			cout := int64(l.Out)
			c.MACs += cout * kdim * pix
			c.Values += o + x + 2*kdim*pix + 3*cout*pix
		case Dense:
			c.MACs += o * x
			c.Values += o + x
		case MaxPool2D, AvgPool2D:
			c.MACs += o * int64(l.Kernel) * int64(l.Kernel)
			c.Values += o + x
		default:
			c.MACs += o
			c.Values += o + x
		}
		s = out
	}
	return c
}
