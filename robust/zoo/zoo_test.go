package zoo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/robust/data/mnist"
	"github.com/gorobust/gorobust/robust/nn"
)

// testImages is how many MNIST test images (the first ones) the accuracy
// checks use: enough that a model trained worse, or the wrong file, falls
// below the thresholds, few enough to run in about a second.
const testImages = 500

func TestPublicKey(t *testing.T) {
	pub := PublicKey()
	if len(pub) != ed25519.PublicKeySize {
		t.Fatalf("PublicKey has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	want := append(ed25519.PublicKey(nil), pub...)
	pub[0] ^= 1
	if !PublicKey().Equal(want) {
		t.Error("changing the returned key changed the next PublicKey")
	}
}

func TestModels(t *testing.T) {
	test, err := mnist.Test()
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, testImages)
	for i := range idx {
		idx[i] = i
	}
	x, y, err := test.Batch(idx)
	if err != nil {
		t.Fatal(err)
	}
	// On these 500 images the committed files score 493 (standard) and
	// 491 (robust) correct clean, and 1 and 469 after FGSM (docs/models.md).
	// The thresholds sit 5 to 25 images from those: a worse-trained model
	// or swapped files trip them, another CPU's rounding does not.
	for _, tc := range []struct {
		name             string
		load             func() (*nn.Model, error)
		minClean         int // of testImages, clean
		minFGSM, maxFGSM int // of testImages, after FGSM at Linf eps 0.3
	}{
		{"MNISTStandard", MNISTStandard, 485, 0, 25},
		{"MNISTRobust", MNISTRobust, 485, 445, testImages},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Spec(), nn.ReferenceCNN(); !specEqual(got, want) {
				t.Errorf("Spec is %+v, want nn.ReferenceCNN() %+v", got, want)
			}
			if m.Float64() {
				t.Error("model is float64, want float32")
			}
			clean := correct(t, m, x, y)
			xAdv, err := attack.FGSM{Eps: 0.3}.Perturb(context.Background(), m, x, y)
			if err != nil {
				t.Fatal(err)
			}
			fgsm := correct(t, m, xAdv, y)
			t.Logf("first %d MNIST test images: %d correct clean, %d after FGSM at eps 0.3", testImages, clean, fgsm)
			if clean < tc.minClean {
				t.Errorf("%d of %d correct, want at least %d", clean, testImages, tc.minClean)
			}
			if fgsm < tc.minFGSM || fgsm > tc.maxFGSM {
				t.Errorf("%d of %d correct after FGSM, want %d to %d", fgsm, testImages, tc.minFGSM, tc.maxFGSM)
			}
			// A fresh copy: zeroing this model's weights leaves the next
			// one intact.
			ps := m.Params()
			for _, p := range ps {
				clear(p.Value.Data().([]float32))
			}
			if err := m.SetParams(ps); err != nil {
				t.Fatal(err)
			}
			again, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if got := correct(t, again, x, y); got != clean {
				t.Errorf("after zeroing the first copy's weights, a second copy gets %d correct, want %d", got, clean)
			}
		})
	}
}

// TestTamperedRefused checks that the loader refuses a copy of an embedded
// file with one weight changed, without its signature, or signed by
// another key.
func TestTamperedRefused(t *testing.T) {
	m, err := MNISTStandard()
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(mnistStandard)
	flipped[len(flipped)-1] ^= 1
	var unsigned, otherKey bytes.Buffer
	if err := nn.Save(&unsigned, m, nil); err != nil {
		t.Fatal(err)
	}
	// A fixed seed: any key but the release key will do.
	_, priv, err := ed25519.GenerateKey(bytes.NewReader(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Save(&otherKey, m, &nn.SaveOptions{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file []byte
		want error
	}{
		{"last weight flipped", flipped, nn.ErrDigest},
		{"unsigned", unsigned.Bytes(), nn.ErrSignature},
		{"signed by another key", otherKey.Bytes(), nn.ErrSignature},
	} {
		if _, err := load(tc.name, tc.file); !errors.Is(err, tc.want) {
			t.Errorf("%s: load gives %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := load("intact", mnistStandard); err != nil {
		t.Errorf("intact: %v", err)
	}
}

// correct counts the images of x that m labels y.
func correct(t *testing.T, m *nn.Model, x *tensor.Dense, y []int) int {
	t.Helper()
	z, err := m.Logits(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	logits, k := z.Data().([]float32), m.NumClasses()
	c := 0
	for i, label := range y {
		row := logits[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == label {
			c++
		}
	}
	return c
}

func specEqual(a, b nn.Spec) bool {
	ja, errA := a.MarshalJSON()
	jb, errB := b.MarshalJSON()
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
