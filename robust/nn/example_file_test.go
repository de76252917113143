package nn_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/gorobust/gorobust/robust/nn"
)

func ExampleLoad() {
	// A fixed seed makes the example reproducible; pass nil to
	// ed25519.GenerateKey for a real key (from crypto/rand).
	pub, priv, err := ed25519.GenerateKey(bytes.NewReader(make([]byte, 32)))
	if err != nil {
		panic(err)
	}
	m, err := nn.New(nn.ReferenceCNN(), nil)
	if err != nil {
		panic(err)
	}
	var file bytes.Buffer
	if err := nn.Save(&file, m, &nn.SaveOptions{PrivateKey: priv}); err != nil {
		panic(err)
	}
	trusted := &nn.LoadOptions{PublicKey: pub}
	loaded, err := nn.Load(bytes.NewReader(file.Bytes()), trusted)
	fmt.Println(loaded.NumParams(), err)

	// Any change to the file, here to the last weight, fails Load.
	b := file.Bytes()
	b[len(b)-1] ^= 1
	_, err = nn.Load(bytes.NewReader(b), trusted)
	fmt.Println(errors.Is(err, nn.ErrDigest))
	// Output:
	// 166406 <nil>
	// true
}

func ExampleImport() {
	// numpy_cnn.safetensors holds the state_dict of this nn.Sequential:
	// Conv2d(1, 4, 4, 2, 1), ReLU(), Conv2d(4, 8, 4, 2, 1), ReLU(),
	// Flatten(), Linear(72, 16), ReLU(), Linear(16, 10).
	spec := nn.Spec{
		Input: [3]int{1, 12, 12},
		Layers: []nn.Layer{
			nn.Conv2D{Out: 4, Kernel: 4, Stride: 2, Pad: 1}, nn.ReLU{},
			nn.Conv2D{Out: 8, Kernel: 4, Stride: 2, Pad: 1}, nn.ReLU{},
			nn.Flatten{}, nn.Dense{Out: 16}, nn.ReLU{}, nn.Dense{Out: 10},
		},
	}
	f, err := os.Open("testdata/import/numpy_cnn.safetensors")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	m, err := nn.Import(spec, f, nil)
	if err != nil {
		panic(err)
	}
	for _, p := range m.ParamInfos() {
		fmt.Println(p.Name, p.Shape)
	}
	// Output:
	// 0.weight [4 1 4 4]
	// 0.bias [4]
	// 2.weight [8 4 4 4]
	// 2.bias [8]
	// 5.weight [16 72]
	// 5.bias [16]
	// 7.weight [10 16]
	// 7.bias [10]
}
