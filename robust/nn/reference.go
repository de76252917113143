package nn

// ReferenceCNN is the MNIST model of Wong, Rice and Kolter, "Fast is better
// than free: revisiting adversarial training" (ICLR 2020), used for their
// FGSM-RS results: Conv(1->16, k4, s2, p1) ReLU Conv(16->32, k4, s2, p1) ReLU
// Flatten Dense(1568->100) ReLU Dense(100->10), on 1 x 28 x 28 inputs in
// [0, 1] without normalisation. Its parameter names (0.weight, 2.weight,
// 5.weight, 7.weight and biases) are those of the same nn.Sequential in
// PyTorch.
func ReferenceCNN() Spec {
	return Spec{
		Input: [3]int{1, 28, 28},
		Layers: []Layer{
			Conv2D{Out: 16, Kernel: 4, Stride: 2, Pad: 1},
			ReLU{},
			Conv2D{Out: 32, Kernel: 4, Stride: 2, Pad: 1},
			ReLU{},
			Flatten{},
			Dense{Out: 100},
			ReLU{},
			Dense{Out: 10},
		},
	}
}
