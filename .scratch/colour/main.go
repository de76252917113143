package main

import (
	"fmt"

	"github.com/gorobust/gorobust/robust/nn"
)

func main() {
	m, err := nn.New(nn.Spec{Input: [3]int{3, 32, 32}, Layers: []nn.Layer{nn.Conv2D{Out: 4, Kernel: 3, Stride: 1}, nn.ReLU{}, nn.Flatten{}, nn.Dense{Out: 10}}}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(nn.SaveFile("/tmp/colour.safetensors", m, nil))
}
