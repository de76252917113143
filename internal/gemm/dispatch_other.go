//go:build !amd64

package gemm

func available() []*impl[float32] { return []*impl[float32]{&sgemmGo} }

var sgemmImpl = available()[0]
