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
		return nil, fmt.Errorf("%w: Merge of no reports", robust.ErrConfig)
	}
	byIndex := make([]*Report, len(reports))
	var want []byte
	for i, r := range reports {
		if r == nil {
			return nil, fmt.Errorf("%w: Merge: report %d is nil", robust.ErrConfig, i)
		}
		if r.Schema != ReportSchema {
			return nil, fmt.Errorf("%w: Merge: report %d has schema %q, want %q", robust.ErrConfig, i, r.Schema, ReportSchema)
		}
		sh := r.Settings.Shard
		if sh.Count != len(reports) {
			return nil, fmt.Errorf("%w: Merge: report %d is shard %d of %d, but %d reports were given",
				robust.ErrConfig, i, sh.Index, sh.Count, len(reports))
		}
		if sh.Index < 0 || sh.Index >= sh.Count || byIndex[sh.Index] != nil {
			return nil, fmt.Errorf("%w: Merge: shard index %d is out of range or given twice", robust.ErrConfig, sh.Index)
		}
		byIndex[sh.Index] = r
		s, err := settingsKey(r.Settings)
		if err != nil {
			return nil, err
		}
		if want == nil {
			want = s
		} else if !bytes.Equal(s, want) {
			return nil, fmt.Errorf("%w: Merge: report %d (shard %d) has other settings than the first report", robust.ErrConfig, i, sh.Index)
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
			return nil, fmt.Errorf("%w: Merge: shard %d has %d run costs, want %d", robust.ErrConfig, i, len(r.Cost.Runs), len(out.Cost.Runs))
		}
		for k, rc := range r.Cost.Runs {
			if rc.Attack != out.Cost.Runs[k].Attack || rc.Eps != out.Cost.Runs[k].Eps {
				return nil, fmt.Errorf("%w: Merge: shard %d run cost %d is %s at %v, want %s at %v",
					robust.ErrConfig, i, k, rc.Attack, rc.Eps, out.Cost.Runs[k].Attack, out.Cost.Runs[k].Eps)
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
		return nil, fmt.Errorf("robust: Merge: encoding settings: %w", err)
	}
	return b, nil
}

// checkShardReport checks that r covers exactly the examples of shard sh and
// that every example is well formed, so that summarize can trust it.
func checkShardReport(r *Report, sh Shard) error {
	st := r.Settings
	begin, end := sh.Range(st.Examples)
	if st.Shard.Begin != begin || st.Shard.End != end {
		return fmt.Errorf("%w: Merge: shard %d of %d covers [%d, %d), want [%d, %d)",
			robust.ErrConfig, sh.Index, sh.Count, st.Shard.Begin, st.Shard.End, begin, end)
	}
	if len(r.Examples) != end-begin {
		return fmt.Errorf("%w: Merge: shard %d holds %d examples, want %d", robust.ErrConfig, sh.Index, len(r.Examples), end-begin)
	}
	neps := len(st.Epsilons)
	if st.LargeEps > 0 {
		neps++
	}
	k := st.Model.Classes
	for i, ex := range r.Examples {
		if ex.Index != begin+i {
			return fmt.Errorf("%w: Merge: shard %d example %d has index %d, want %d", robust.ErrConfig, sh.Index, i, ex.Index, begin+i)
		}
		if ex.Label < 0 || ex.Label >= k || ex.CleanPred < 0 || ex.CleanPred >= k {
			return fmt.Errorf("%w: Merge: example %d has label %d, prediction %d for %d classes", robust.ErrLabel, ex.Index, ex.Label, ex.CleanPred, k)
		}
		want := 0
		if ex.CleanPred == ex.Label {
			want = neps
		}
		if len(ex.Outcomes) != want {
			return fmt.Errorf("%w: Merge: example %d has %d outcome rows, want %d", robust.ErrShape, ex.Index, len(ex.Outcomes), want)
		}
		for _, row := range ex.Outcomes {
			if len(row) != len(st.Attacks) {
				return fmt.Errorf("%w: Merge: example %d has %d outcomes per epsilon, want %d", robust.ErrShape, ex.Index, len(row), len(st.Attacks))
			}
			for _, o := range row {
				if o.Pred < 0 || o.Pred >= k {
					return fmt.Errorf("%w: Merge: example %d has an adversarial prediction %d for %d classes", robust.ErrLabel, ex.Index, o.Pred, k)
				}
			}
		}
	}
	return nil
}
