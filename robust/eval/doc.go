// Package eval measures how robust a classifier is: Evaluate runs a Suite
// (attacks built for each of a list of epsilons) over a robust.Dataset and
// returns a Report.
//
// # What a report holds
//
// Clean accuracy; per epsilon, robust accuracy per attack and over the
// per-example worst case (clean mistakes count as not robust, and each
// attack already keeps the worst case over its own restarts); perturbation
// norms; model calls and time; sanity flags from the AutoAttack and Carlini
// et al. checklists (zero or non-finite start gradients, a black-box attack
// beating the white-box ones, accuracy not falling with eps or not reaching
// zero at a large eps, stochastic or probability outputs); and every setting
// needed to reproduce the run. Reports are JSON (schema ReportSchema) and text
// tables (Report.WriteJSON, Report.WriteTable, ReadReport).
//
// # Sharding
//
// A Shard of an evaluation runs a contiguous range of its examples with the
// same per-batch seeds as the whole run, so Merge of all shards' reports is
// exactly the single-run report.
//
// # Where the rest lives
//
// Ready suites are in attack/suite; plots of accuracy against epsilon in
// robust/eval/plot, a package of its own so that eval does not pull in the
// plotting libraries.
//
// # Errors
//
// Evaluate refuses an invalid suite, options or dataset with errors wrapping
// robust's sentinels before it runs any attack; an attack's output outside
// its budget or the bounds is an error (robust.ErrBounds), never a silently
// counted result.
package eval
