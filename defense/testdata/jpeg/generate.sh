#!/bin/sh
# Regenerates the libjpeg golden files of the JPEG tests. Needs Go and
# libjpeg-turbo's cjpeg and djpeg (Debian: apt-get install libjpeg-turbo-progs).
# Run from the module root: sh defense/testdata/jpeg/generate.sh
set -eu
dir=defense/testdata/jpeg
rm -rf "$dir/src" "$dir/qtables" "$dir/decode"
mkdir -p "$dir/qtables" "$dir/decode"
go run ./$dir/mkinputs -dir "$dir/src"
cjpeg -version 2>&1 | head -1 > "$dir/VERSION"

# Quantisation tables: a colour image holds both the luminance and the
# chrominance table. -baseline limits entries to 8 bits, as every baseline
# encoder (image/jpeg included) must.
q=10
while [ $q -le 95 ]; do
	cjpeg -baseline -quality $q "$dir/src/rgb0.ppm" > "$dir/qtables/q$q.jpg"
	q=$((q + 1))
done

# Decoding: libjpeg's own compression of each image and its accurate
# integer decoding of those bytes (-nosmooth for colour: replicated chroma,
# as image/jpeg does; -grayscale: the luminance plane alone).
for q in 10 20 50 75 95; do
	for f in "$dir"/src/gray*.pgm; do
		b=$(basename "$f" .pgm)
		cjpeg -baseline -quality $q "$f" > "$dir/decode/${b}_q$q.jpg"
		djpeg -dct int -pnm "$dir/decode/${b}_q$q.jpg" > "$dir/decode/${b}_q$q.pgm"
	done
	for f in "$dir"/src/rgb*.ppm; do
		b=$(basename "$f" .ppm)
		cjpeg -baseline -quality $q "$f" > "$dir/decode/${b}_q$q.jpg"
		djpeg -dct int -nosmooth -pnm "$dir/decode/${b}_q$q.jpg" > "$dir/decode/${b}_q$q.ppm"
		djpeg -dct int -grayscale -pnm "$dir/decode/${b}_q$q.jpg" > "$dir/decode/${b}_q${q}_y.pgm"
	done
done
