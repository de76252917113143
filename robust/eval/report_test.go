package eval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gorobust/gorobust/attack"
	"github.com/gorobust/gorobust/attack/suite"
	"github.com/gorobust/gorobust/internal/testmodel"
	"github.com/gorobust/gorobust/robust"
	"github.com/gorobust/gorobust/robust/eval"
)

// blobsReport evaluates the strong suite, with small budgets, on the small
// pure-Go model of internal/testmodel.
func blobsReport(t *testing.T) *eval.Report {
	t.Helper()
	m, x, y, err := testmodel.Trained(24)
	if err != nil {
		t.Fatal(err)
	}
	s := suite.Strong(0.05, 0.1)
	// Square's full 5000 queries would dominate the test's time under -race.
	s.Attacks[2].New = func(e float64) robust.Attack { return attack.Square{Eps: e, MaxQueries: 200} }
	r, err := eval.Evaluate(context.Background(), m, tensorDataset{x, y}, s, &eval.EvaluateOptions{
		BatchSize: 10, Meta: map[string]string{"model": "blobs"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// schemaKeys are the key paths of a "gorobust.report/v1" document ("[]"
// stands for any array element). Renaming or removing one needs a new
// schema version; adding one needs this list updated.
var schemaKeys = `clean.accuracy clean.correct clean.total
cost.evaluator.grad cost.evaluator.grad_images cost.evaluator.logits cost.evaluator.logits_images
cost.runs[].attack cost.runs[].calls.grad cost.runs[].calls.grad_images cost.runs[].calls.logits cost.runs[].calls.logits_images cost.runs[].eps cost.runs[].seconds
cost.seconds cost.total.grad cost.total.grad_images cost.total.logits cost.total.logits_images
environment.arch environment.go_version environment.gomaxprocs environment.module environment.module_version environment.num_cpu environment.os environment.started
examples[].clean_pred examples[].index examples[].label examples[].outcomes[][].norm examples[].outcomes[][].pred examples[].start_gradient
results[].attacks[].attacked results[].attacks[].mean_norm results[].attacks[].median_norm results[].attacks[].name results[].attacks[].robust.accuracy results[].attacks[].robust.correct results[].attacks[].robust.total results[].attacks[].successes
results[].black_box_only results[].eps results[].large_eps_check results[].worst_case.accuracy results[].worst_case.correct results[].worst_case.total
sanity[].checked sanity[].detail sanity[].name sanity[].tripped
schema
settings.attacks[].black_box settings.attacks[].configs[] settings.attacks[].name settings.attacks[].reseeded
settings.batch_size settings.dataset_len settings.epsilons[] settings.examples settings.large_eps settings.meta.model
settings.model.bounds[] settings.model.classes settings.model.differentiable settings.model.input_shape[] settings.model.type
settings.norm settings.seed settings.seed_rule settings.shard.begin settings.shard.count settings.shard.end settings.shard.index settings.suite`

func keyPaths(prefix string, v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			keyPaths(p, e, out)
		}
	case []any:
		for _, e := range v {
			keyPaths(prefix+"[]", e, out)
		}
		if len(v) == 0 {
			out[prefix+"[]"] = true
		}
	default:
		out[prefix] = true
	}
}

func TestReportJSONSchema(t *testing.T) {
	r := blobsReport(t)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	keyPaths("", doc, got)
	// Test binaries carry no dependency versions in their build
	// information, so environment.dependencies (a map of module path to
	// version) is left out here.
	for k := range got {
		if strings.HasPrefix(k, "environment.dependencies.") {
			delete(got, k)
		}
	}
	want := strings.Fields(schemaKeys)
	var missing, extra []string
	for _, k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
		delete(got, k)
	}
	for k := range got {
		extra = append(extra, k)
	}
	slices.Sort(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("report keys changed:\nmissing %v\nextra %v", missing, extra)
	}

	back := roundTrip(t, r)
	compareReports(t, r, back)
	if !costEqual(back.Cost, r.Cost) {
		t.Errorf("cost changed in a round trip")
	}

	other := strings.Replace(buf.String(), eval.ReportSchema, "gorobust.report/v0", 1)
	if _, err := eval.ReadReport(strings.NewReader(other)); !errors.Is(err, robust.ErrConfig) {
		t.Errorf("another schema version: %v", err)
	}
}

func costEqual(a, b eval.Cost) bool {
	return a.Seconds == b.Seconds && a.Total == b.Total && a.Evaluator == b.Evaluator && slices.Equal(a.Runs, b.Runs)
}

func TestWriteTable(t *testing.T) {
	r := blobsReport(t)
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"clean accuracy", "APGD-CE", "APGD-T", "Square", "worst case", "0.05", "(check)",
		eval.FlagGradientMasking, eval.FlagLargeEps, "cost"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
