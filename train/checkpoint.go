package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gorobust/gorobust/internal/atomicfile"
	"github.com/gorobust/gorobust/robust/nn"
	"gorgonia.org/tensor"
)

// ErrCheckpoint reports a checkpoint that cannot be resumed: unreadable, or
// written by a training with other settings.
var ErrCheckpoint = errors.New("train: bad checkpoint")

const checkpointFormat = "gorobust-checkpoint/1"

// fingerprint is what must match for a checkpoint to resume a training:
// resuming with other settings would silently mix two trainings.
type fingerprint struct {
	Method     string         `json:"method"`
	Epochs     int            `json:"epochs"`
	BatchSize  int            `json:"batch_size"`
	Seed       uint64         `json:"seed"`
	Examples   int            `json:"examples"`
	Validation int            `json:"validation"`
	Optimizer  string         `json:"optimizer"`
	Params     []nn.ParamInfo `json:"params"`
}

type checkpointFile struct {
	Format      string      `json:"format"`
	Fingerprint fingerprint `json:"fingerprint"`
	State       state       `json:"state"`
	// Weights holds every parameter's values; float64 holds float32 values
	// exactly and encoding/json round-trips both exactly.
	Weights [][]float64 `json:"weights"`
}

func fingerprintOf(c Trainer, n int, m Model) fingerprint {
	return fingerprint{
		Method: c.Method.methodName(), Epochs: c.Epochs, BatchSize: c.BatchSize, Seed: c.Seed,
		Examples: n, Validation: c.Validation, Optimizer: c.Optimizer.name(), Params: m.ParamInfos(),
	}
}

func saveCheckpoint(path string, c Trainer, n int, m Model, st *state) error {
	cf := checkpointFile{Format: checkpointFormat, Fingerprint: fingerprintOf(c, n, m), State: *st, Weights: toFloat64s(m.Params())}
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		w := bufio.NewWriter(f)
		if err := json.NewEncoder(w).Encode(cf); err != nil {
			return fmt.Errorf("train: encode checkpoint: %w", err)
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("train: write checkpoint %s: %w", path, err)
	}
	return nil
}

// loadCheckpoint resumes from path into m and st. It returns false when no
// checkpoint exists yet.
func loadCheckpoint(path string, c Trainer, n int, m Model, st *state) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("train: read checkpoint: %w", err)
	}
	var cf checkpointFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil {
		return false, fmt.Errorf("train: checkpoint %s: %v: %w", path, err, ErrCheckpoint)
	}
	if cf.Format != checkpointFormat {
		return false, fmt.Errorf("train: checkpoint %s has format %q, want %q: %w", path, cf.Format, checkpointFormat, ErrCheckpoint)
	}
	want, _ := json.Marshal(fingerprintOf(c, n, m))
	got, _ := json.Marshal(cf.Fingerprint)
	if !bytes.Equal(want, got) {
		return false, fmt.Errorf("train: checkpoint %s was written by another training:\n got %s\nwant %s: %w", path, got, want, ErrCheckpoint)
	}
	ps := m.Params()
	if len(cf.Weights) != len(ps) || cf.State.Opt == nil || len(cf.State.Opt.Buffers) != len(ps) {
		return false, fmt.Errorf("train: checkpoint %s holds %d weight tensors, model has %d: %w", path, len(cf.Weights), len(ps), ErrCheckpoint)
	}
	for i := range ps {
		size := ps[i].Value.Shape().TotalSize()
		if len(cf.Weights[i]) != size {
			return false, fmt.Errorf("train: checkpoint %s: %s has %d values, want %d: %w", path, ps[i].Name, len(cf.Weights[i]), size, ErrCheckpoint)
		}
		if len(cf.State.Opt.Buffers[i]) != c.Optimizer.buffers() {
			return false, fmt.Errorf("train: checkpoint %s: optimizer state of %s: %w", path, ps[i].Name, ErrCheckpoint)
		}
		for _, buf := range cf.State.Opt.Buffers[i] {
			if len(buf) != size {
				return false, fmt.Errorf("train: checkpoint %s: optimizer state of %s has %d values, want %d: %w", path, ps[i].Name, len(buf), size, ErrCheckpoint)
			}
		}
		ps[i].Value = tensor.New(tensor.WithShape(ps[i].Shape...), tensor.WithBacking(cf.Weights[i]))
	}
	if cf.State.Epoch < 0 || cf.State.Epoch > c.Epochs || cf.State.Batch < 0 {
		return false, fmt.Errorf("train: checkpoint %s: epoch %d, batch %d: %w", path, cf.State.Epoch, cf.State.Batch, ErrCheckpoint)
	}
	if err := m.SetParams(ps); err != nil {
		return false, fmt.Errorf("train: checkpoint %s: %v: %w", path, err, ErrCheckpoint)
	}
	*st = cf.State
	return true, nil
}
