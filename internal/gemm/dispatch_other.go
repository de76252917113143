//go:build !amd64

package gemm

func available() []*impl[float32] { return []*impl[float32]{&sgemmGo} }

var sgemmImpl = available()[0]

func vectorSets() []vectorKernels { return []vectorKernels{{width: 1}} }

var vec = vectorSets()[0]
