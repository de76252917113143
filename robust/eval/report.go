package eval

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/gorobust/gorobust/robust"
)

// ReportSchema identifies the JSON layout of Report. It changes, with a new
// number, whenever a field is renamed, removed or changes meaning; fields may
// be added within a version.
const ReportSchema = "gorobust.report/v1"

// Report is the result of Evaluate, or of Merge over the reports of every
// shard. Encoded with encoding/json, it is the report.json of the JSON
// schema "gorobust.report/v1": each field's key is given in its comment.
//
// Everything but Environment, Cost and MergedFrom follows from Settings and
// the model: two runs with equal settings on a deterministic model give
// equal Clean, Results, Sanity and Examples, and so does the merge of any
// sharding of the run. Accuracies are fractions in [0, 1]; norms are in the
// suite's norm and the model's pixel units; times are in seconds.
type Report struct {
	// Schema ("schema") is ReportSchema.
	Schema string `json:"schema"`
	// Environment ("environment") records where and with what the run was
	// made.
	Environment Environment `json:"environment"`
	// Settings ("settings") records everything the results depend on.
	Settings Settings `json:"settings"`
	// Clean ("clean") is the accuracy on the unperturbed examples.
	Clean Accuracy `json:"clean"`
	// Results ("results") holds one entry per epsilon, in the order of
	// Settings.Epsilons, followed by the large-epsilon check when it ran.
	Results []EpsResult `json:"results"`
	// Sanity ("sanity") lists every check, tripped or not, in a fixed order.
	Sanity []Flag `json:"sanity"`
	// Cost ("cost") is the time and the model evaluations used.
	Cost Cost `json:"cost"`
	// MergedFrom ("merged_from", omitted when 0) is the number of shard
	// reports Merge combined into this one.
	MergedFrom int `json:"merged_from,omitempty"`
	// Examples ("examples") holds every evaluated example, by index.
	Examples []Example `json:"examples"`
}

// Environment records the program and machine of a run.
type Environment struct {
	// GoVersion ("go_version") is runtime.Version().
	GoVersion string `json:"go_version"`
	// OS and Arch ("os", "arch") are GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// NumCPU and GOMAXPROCS ("num_cpu", "gomaxprocs") are the machine's
	// logical CPUs and the Go scheduler's limit.
	NumCPU     int `json:"num_cpu"`
	GOMAXPROCS int `json:"gomaxprocs"`
	// Module and ModuleVersion ("module", "module_version") name the
	// gorobust module as the binary's build information records it:
	// "(devel)" for a build inside its own source tree.
	Module        string `json:"module"`
	ModuleVersion string `json:"module_version"`
	// Revision and Modified ("vcs_revision", "vcs_modified", omitted when
	// unknown) are the version-control commit of the build and whether the
	// tree had local changes; go build records them unless -buildvcs=false.
	Revision string `json:"vcs_revision,omitempty"`
	Modified bool   `json:"vcs_modified,omitempty"`
	// Dependencies ("dependencies") maps the modules the numbers depend on
	// (Gorgonia, its tensor package, gonum) to their versions.
	Dependencies map[string]string `json:"dependencies,omitempty"`
	// Started ("started") is when the run began, RFC 3339 in UTC.
	Started string `json:"started"`
}

// Settings records everything an evaluation's results depend on, so that
// it can be repeated.
type Settings struct {
	// Suite ("suite") is Suite.Name.
	Suite string `json:"suite"`
	// Norm ("norm") is "linf" or "l2".
	Norm robust.Norm `json:"norm"`
	// Epsilons ("epsilons") are the suite's budgets.
	Epsilons []float64 `json:"epsilons"`
	// LargeEps ("large_eps") is the budget of the large-epsilon check, 0
	// when it was skipped.
	LargeEps float64 `json:"large_eps"`
	// Seed ("seed") is Suite.Seed; attack seeds follow from it by SeedRule.
	Seed uint64 `json:"seed"`
	// SeedRule ("seed_rule") says how, for readers without the Go code.
	SeedRule string `json:"seed_rule"`
	// BatchSize ("batch_size") is the number of examples per batch.
	BatchSize int `json:"batch_size"`
	// DatasetLen ("dataset_len") is the length of the dataset.
	DatasetLen int `json:"dataset_len"`
	// Examples ("examples") is n: the evaluation covers examples [0, n) of
	// the dataset.
	Examples int `json:"examples"`
	// Shard ("shard") is the part of [0, n) this report covers.
	Shard ShardRange `json:"shard"`
	// Model ("model") describes the model as Evaluate saw it.
	Model ModelInfo `json:"model"`
	// Attacks ("attacks") describes the suite's attacks in order.
	Attacks []AttackInfo `json:"attacks"`
	// Meta ("meta", omitted when empty) is EvaluateOptions.Meta.
	Meta map[string]string `json:"meta,omitempty"`
}

// ShardRange is a Shard with the examples it covers.
type ShardRange struct {
	// Index and Count ("index", "count"): shard Index of Count.
	Index int `json:"index"`
	Count int `json:"count"`
	// Begin and End ("begin", "end"): the examples [Begin, End).
	Begin int `json:"begin"`
	End   int `json:"end"`
}

// ModelInfo describes a model by its interface.
type ModelInfo struct {
	// Type ("type") is the model's Go type, as fmt's %T prints it.
	Type string `json:"type"`
	// Classes ("classes") is NumClasses().
	Classes int `json:"classes"`
	// Bounds ("bounds") is [Bounds().Min, Bounds().Max].
	Bounds [2]float32 `json:"bounds"`
	// Differentiable ("differentiable") tells whether the model provides
	// gradients.
	Differentiable bool `json:"differentiable"`
	// InputShape ("input_shape") is C, H, W of one example.
	InputShape []int `json:"input_shape"`
}

// AttackInfo describes one attack of the suite.
type AttackInfo struct {
	// Name ("name") is SuiteAttack.Name.
	Name string `json:"name"`
	// BlackBox ("black_box") is SuiteAttack.BlackBox.
	BlackBox bool `json:"black_box"`
	// Reseeded ("reseeded") tells whether the attack implements Reseedable
	// and so got a seed per batch; otherwise its own seed, if any, is used
	// for every batch.
	Reseeded bool `json:"reseeded"`
	// Configs ("configs") holds the attack as built for each entry of
	// Results, in fmt's "%T%+v" form, before reseeding.
	Configs []string `json:"configs"`
}

// Accuracy is a count of examples classified correctly out of a total.
type Accuracy struct {
	// Correct ("correct") examples of Total ("total").
	Correct int `json:"correct"`
	Total   int `json:"total"`
	// Accuracy ("accuracy") is Correct/Total, 0 when Total is 0.
	Accuracy float64 `json:"accuracy"`
}

// EpsResult holds the robust accuracies at one epsilon.
type EpsResult struct {
	// Eps ("eps") is the budget.
	Eps float64 `json:"eps"`
	// LargeEpsCheck ("large_eps_check", omitted when false) marks the
	// large-epsilon sanity check, which is not part of the curve.
	LargeEpsCheck bool `json:"large_eps_check,omitempty"`
	// Attacks ("attacks") holds one entry per attack of the suite, in order.
	Attacks []AttackResult `json:"attacks"`
	// WorstCase ("worst_case") counts the examples that are classified
	// correctly and that no attack broke.
	WorstCase Accuracy `json:"worst_case"`
	// BlackBoxOnly ("black_box_only") counts the examples that a black-box
	// attack broke and no other attack did.
	BlackBoxOnly int `json:"black_box_only"`
}

// AttackResult is one attack's result at one epsilon.
type AttackResult struct {
	// Name ("name") is the attack's name.
	Name string `json:"name"`
	// Robust ("robust") counts the examples classified correctly both
	// clean and after the attack, out of all evaluated examples.
	Robust Accuracy `json:"robust"`
	// Attacked ("attacked") counts the examples attacked: those the model
	// classifies correctly. Successes ("successes") counts those broken.
	Attacked  int `json:"attacked"`
	Successes int `json:"successes"`
	// MeanNorm and MedianNorm ("mean_norm", "median_norm") summarise the
	// perturbation norms of the successful attacks, 0 without successes.
	MeanNorm   float64 `json:"mean_norm"`
	MedianNorm float64 `json:"median_norm"`
}

// Flag is one sanity check.
type Flag struct {
	// Name ("name") identifies the check: one of the Flag* constants.
	Name string `json:"name"`
	// Checked ("checked") is false when the check could not run (for
	// example the zero-gradient check on a model without gradients).
	Checked bool `json:"checked"`
	// Tripped ("tripped") is true when the check found a problem.
	Tripped bool `json:"tripped"`
	// Detail ("detail") says what was found, or why it was not checked.
	Detail string `json:"detail"`
}

// Sanity check names, in report order.
const (
	// FlagProbabilities: the model seems to output probabilities (every row
	// in [0, 1] and summing to 1) rather than logits, which flattens
	// cross-entropy gradients. Tripped when more than half the examples
	// look so.
	FlagProbabilities = "probability-outputs"
	// FlagStochastic: two forward passes on the same batch differ, so
	// attacks need expectation over transformation and results vary.
	FlagStochastic = "stochastic-model"
	// FlagZeroGradient: the margin loss has an exactly zero input gradient
	// at a clean example, which stops gradient attacks.
	FlagZeroGradient = "zero-gradient"
	// FlagNonFiniteGradient: a loss gradient at a clean example is NaN or
	// infinite.
	FlagNonFiniteGradient = "non-finite-gradient"
	// FlagGradientMasking: a black-box attack broke examples that every
	// gradient attack failed on.
	FlagGradientMasking = "gradient-masking"
	// FlagEpsNotMonotone: the worst-case robust accuracy is higher at a
	// larger epsilon. (A single attack's accuracy rising is noted in the
	// detail but does not trip it: FGSM does so at large budgets.)
	FlagEpsNotMonotone = "accuracy-rises-with-eps"
	// FlagLargeEps: the worst-case robust accuracy at the large-epsilon
	// check exceeds LargeEpsTolerance.
	FlagLargeEps = "large-eps-not-broken"
)

// Cost is what an evaluation spent.
type Cost struct {
	// Seconds ("seconds") is the wall time, summed over shards after Merge.
	Seconds float64 `json:"seconds"`
	// Total ("total") counts every model call, Evaluator ("evaluator") the
	// calls Evaluate made itself (clean passes, gradient checks, verdicts on
	// the attacks' outputs).
	Total     Calls `json:"total"`
	Evaluator Calls `json:"evaluator"`
	// Runs ("runs") is the cost of each attack at each epsilon, summed over
	// batches, in the order of Results and then of the attacks.
	Runs []RunCost `json:"runs"`
}

// Calls counts model calls and the images they carried.
type Calls struct {
	// Logits and LogitsImages ("logits", "logits_images"): calls of Logits
	// and the examples they carried.
	Logits       int64 `json:"logits"`
	LogitsImages int64 `json:"logits_images"`
	// Grad and GradImages ("grad", "grad_images"): calls of LossGrad and the
	// examples they carried.
	Grad       int64 `json:"grad"`
	GradImages int64 `json:"grad_images"`
}

func (c *Calls) add(o Calls) {
	c.Logits += o.Logits
	c.LogitsImages += o.LogitsImages
	c.Grad += o.Grad
	c.GradImages += o.GradImages
}

// RunCost is the cost of one attack at one epsilon.
type RunCost struct {
	// Attack and Eps ("attack", "eps") name the run.
	Attack string  `json:"attack"`
	Eps    float64 `json:"eps"`
	// Seconds ("seconds") is the time spent in the attack, summed over
	// batches (so it can exceed the wall time when batches run in parallel).
	Seconds float64 `json:"seconds"`
	// Calls ("calls") counts the attack's own model calls.
	Calls Calls `json:"calls"`
}

// Example is the fate of one example.
type Example struct {
	// Index ("index") is the example's index in the dataset.
	Index int `json:"index"`
	// Label ("label") is its true class; CleanPred ("clean_pred") the
	// model's prediction on it.
	Label     int `json:"label"`
	CleanPred int `json:"clean_pred"`
	// Gradient ("start_gradient", omitted for models without gradients)
	// is the state of the loss gradients at the clean example: one of the
	// Gradient* constants.
	Gradient string `json:"start_gradient,omitempty"`
	// Probabilities ("probability_output", omitted when false): the
	// model's output row lies in [0, 1] and sums to 1.
	Probabilities bool `json:"probability_output,omitempty"`
	// Stochastic ("stochastic", omitted when false): two forward passes
	// gave different outputs for this example.
	Stochastic bool `json:"stochastic,omitempty"`
	// Outcomes ("outcomes", omitted for examples misclassified clean, which
	// are not attacked) holds Outcomes[e][a] for entry e of Results and
	// attack a of the suite.
	Outcomes [][]Outcome `json:"outcomes,omitempty"`
}

// Start-gradient states of Example.Gradient.
const (
	// GradientOK: the margin and cross-entropy gradients are finite and not
	// zero.
	GradientOK = "ok"
	// GradientZeroCE: the cross-entropy gradient is zero (the softmax has
	// saturated in floating point) but the margin gradient is not, so
	// margin and DLR losses still work.
	GradientZeroCE = "zero-ce"
	// GradientZero: the margin gradient is zero.
	GradientZero = "zero"
	// GradientNonFinite: a gradient holds NaN or an infinity.
	GradientNonFinite = "non-finite"
)

// Outcome is one attack's result on one example at one epsilon.
type Outcome struct {
	// Pred ("pred") is the model's prediction on the attack's output; the
	// attack succeeded when it differs from the label.
	Pred int `json:"pred"`
	// Norm ("norm") is the size of the perturbation in the suite's norm,
	// computed in float64 from the float32 values.
	Norm float64 `json:"norm"`
}

// WriteJSON writes r as indented JSON followed by a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: encoding report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadReport decodes a report written by WriteJSON. It rejects another
// schema version; it ignores unknown fields, which a later release may add
// within the same version.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("eval: decoding report: %w", err)
	}
	if rep.Schema != ReportSchema {
		return nil, fmt.Errorf("eval: report schema %q, want %q: %w", rep.Schema, ReportSchema, robust.ErrConfig)
	}
	return &rep, nil
}
