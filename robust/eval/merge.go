package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gorobust/gorobust/robust"
)

// Merge combines the reports of the k shards of one evaluation, given in
// any order, into the report of the whole evaluation. The reports must share
// their schema and every setting but the shard, and there must be exactly
// one report per shard index.
//
// The merged Clean, Results, Sanity and Examples are recomputed from the
// examples exactly as Evaluate computes them, so they equal those of a
// single run with the same settings on a deterministic model. Cost adds up
// the shards' costs (Seconds included, so it is the total of the shards'
// wall times), Environment is shard 0's, and MergedFrom is k.
func Merge(reports ...*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("eval: Merge of no reports: %w", robust.ErrConfig)
	}
	byIndex := make([]*Report, len(reports))
	var want []byte
	for i, r := range reports {
		if r == nil {
			return nil, fmt.Errorf("eval: Merge: report %d is nil: %w", i, robust.ErrConfig)
		}
		if r.Schema != ReportSchema {
			return nil, fmt.Errorf("eval: Merge: report %d has schema %q, want %q: %w", i, r.Schema, ReportSchema, robust.ErrConfig)
		}
		sh := r.Settings.Shard
		if sh.Count != len(reports) {
			return nil, fmt.Errorf("eval: Merge: report %d is shard %d of %d, but %d reports were given: %w", i, sh.Index, sh.Count, len(reports), robust.ErrConfig)
		}
		if sh.Index < 0 || sh.Index >= sh.Count || byIndex[sh.Index] != nil {
			return nil, fmt.Errorf("eval: Merge: shard index %d is out of range or given twice: %w", sh.Index, robust.ErrConfig)
		}
		byIndex[sh.Index] = r
		s, err := settingsKey(r.Settings)
		if err != nil {
			return nil, err
		}
		if want == nil {
			want = s
		} else if !bytes.Equal(s, want) {
			return nil, fmt.Errorf("eval: Merge: report %d (shard %d) has other settings than the first report: %w", i, sh.Index, robust.ErrConfig)
		}
	}
	first := byIndex[0]
	out := &Report{
		Schema:      ReportSchema,
		Environment: first.Environment,
		Settings:    first.Settings,
		MergedFrom:  len(reports),
		Examples:    []Example{},
	}
	n := first.Settings.Examples
	out.Settings.Shard = ShardRange{Index: 0, Count: 1, Begin: 0, End: n}
	out.Cost.Runs = slices.Clone(first.Cost.Runs)
	for i := range out.Cost.Runs {
		out.Cost.Runs[i].Seconds, out.Cost.Runs[i].Calls = 0, Calls{}
	}
	for i, r := range byIndex {
		if err := checkShardReport(r, Shard{Index: i, Count: len(reports)}); err != nil {
			return nil, err
		}
		out.Examples = append(out.Examples, r.Examples...)
		out.Cost.Seconds += r.Cost.Seconds
		out.Cost.Total.add(r.Cost.Total)
		out.Cost.Evaluator.add(r.Cost.Evaluator)
		if len(r.Cost.Runs) != len(out.Cost.Runs) {
			return nil, fmt.Errorf("eval: Merge: shard %d has %d run costs, want %d: %w", i, len(r.Cost.Runs), len(out.Cost.Runs), robust.ErrConfig)
		}
		for k, rc := range r.Cost.Runs {
			if rc.Attack != out.Cost.Runs[k].Attack || rc.Eps != out.Cost.Runs[k].Eps {
				return nil, fmt.Errorf("eval: Merge: shard %d run cost %d is %s at %v, want %s at %v: %w", i, k, rc.Attack, rc.Eps, out.Cost.Runs[k].Attack, out.Cost.Runs[k].Eps, robust.ErrConfig)
			}
			out.Cost.Runs[k].Seconds += rc.Seconds
			out.Cost.Runs[k].Calls.add(rc.Calls)
		}
	}
	summarize(out)
	return out, nil
}

// settingsKey is s without its shard, as canonical JSON.
func settingsKey(s Settings) ([]byte, error) {
	s.Shard = ShardRange{}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("eval: Merge: encoding settings: %w", err)
	}
	return b, nil
}

// checkShardReport checks that r covers exactly the examples of shard sh and
// that every example is well formed, so that summarize can trust it.
func checkShardReport(r *Report, sh Shard) error {
	st := r.Settings
	begin, end := sh.Range(st.Examples)
	if st.Shard.Begin != begin || st.Shard.End != end {
		return fmt.Errorf("eval: Merge: shard %d of %d covers [%d, %d), want [%d, %d): %w", sh.Index, sh.Count, st.Shard.Begin, st.Shard.End, begin, end, robust.ErrConfig)
	}
	if len(r.Examples) != end-begin {
		return fmt.Errorf("eval: Merge: shard %d holds %d examples, want %d: %w", sh.Index, len(r.Examples), end-begin, robust.ErrConfig)
	}
	neps := len(st.Epsilons)
	if st.LargeEps > 0 {
		neps++
	}
	k := st.Model.Classes
	for i, ex := range r.Examples {
		if ex.Index != begin+i {
			return fmt.Errorf("eval: Merge: shard %d example %d has index %d, want %d: %w", sh.Index, i, ex.Index, begin+i, robust.ErrConfig)
		}
		if ex.Label < 0 || ex.Label >= k || ex.CleanPred < 0 || ex.CleanPred >= k {
			return fmt.Errorf("eval: Merge: example %d has label %d, prediction %d for %d classes: %w", ex.Index, ex.Label, ex.CleanPred, k, robust.ErrLabel)
		}
		want := 0
		if ex.CleanPred == ex.Label {
			want = neps
		}
		if len(ex.Outcomes) != want {
			return fmt.Errorf("eval: Merge: example %d has %d outcome rows, want %d: %w", ex.Index, len(ex.Outcomes), want, robust.ErrShape)
		}
		for _, row := range ex.Outcomes {
			if len(row) != len(st.Attacks) {
				return fmt.Errorf("eval: Merge: example %d has %d outcomes per epsilon, want %d: %w", ex.Index, len(row), len(st.Attacks), robust.ErrShape)
			}
			for _, o := range row {
				if o.Pred < 0 || o.Pred >= k {
					return fmt.Errorf("eval: Merge: example %d has an adversarial prediction %d for %d classes: %w", ex.Index, o.Pred, k, robust.ErrLabel)
				}
			}
		}
	}
	return nil
}
