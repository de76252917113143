// Command mkinputs writes the MNIST images that generate.sh compresses with
// libjpeg: the first Gray test images as binary PGM files and RGB colour
// images, each stacking three consecutive test images as its red, green
// and blue planes, as binary PPM files.
//
//	go run ./defense/testdata/jpeg/mkinputs -dir defense/testdata/jpeg/src
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gorobust/gorobust/robust/data/mnist"
)

// Image counts; the golden test in package defense reads the same numbers.
const (
	Gray = 8
	RGB  = 3
)

func main() {
	dir := flag.String("dir", "src", "output directory")
	flag.Parse()
	test, err := mnist.Test()
	if err != nil {
		log.Fatal(err)
	}
	img := func(i int) []byte {
		p, err := test.Image(i)
		if err != nil {
			log.Fatal(err)
		}
		return p
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < Gray; i++ {
		write(filepath.Join(*dir, fmt.Sprintf("gray%d.pgm", i)), "P5", img(i))
	}
	for i := 0; i < RGB; i++ {
		planes := [3][]byte{img(3 * i), img(3*i + 1), img(3*i + 2)}
		px := make([]byte, 0, 3*len(planes[0]))
		for j := range planes[0] {
			px = append(px, planes[0][j], planes[1][j], planes[2][j])
		}
		write(filepath.Join(*dir, fmt.Sprintf("rgb%d.ppm", i)), "P6", px)
	}
}

func write(path, magic string, px []byte) {
	hdr := fmt.Sprintf("%s\n28 28\n255\n", magic)
	if err := os.WriteFile(path, append([]byte(hdr), px...), 0o644); err != nil {
		log.Fatal(err)
	}
}
