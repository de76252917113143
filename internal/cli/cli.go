// Package cli gives gorobust's example programs the conventions of Go's
// command-line tools: -h prints a one-line description, the usage line and
// the flags; a usage error (a bad flag value, a missing argument) prints the
// error and the usage to stderr and exits with status 2; a failure while
// running prints "program: error" and exits with status 1, without log's
// timestamp. Budgets are given as decimals or fractions ("0.3", "8/255").
package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// UsageError is an error in how a program was called. Exit reports it with
// the usage and status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// Setup sets the usage text of the default FlagSet: description (one line),
// then "Usage: name args" and the flags.
func Setup(name, description, args string) {
	flag.CommandLine.Init(name, flag.ExitOnError)
	flag.Usage = func() {
		w := flag.CommandLine.Output()
		fmt.Fprintf(w, "%s: %s\n\nUsage: %s %s\n\nFlags:\n", name, description, name, args)
		flag.PrintDefaults()
	}
}

// Exit ends the program for err: nothing for nil; the error and the usage
// with status 2 for a UsageError; "name: err" with status 1 otherwise.
func Exit(err error) {
	if err == nil {
		return
	}
	name := flag.CommandLine.Name()
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		flag.Usage()
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// ParseEps reads one budget: a decimal ("0.3") or a fraction of two
// decimals ("8/255"). It must be finite and > 0.
func ParseEps(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, den, frac := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err == nil && frac {
		var d float64
		if d, err = strconv.ParseFloat(strings.TrimSpace(den), 64); err == nil {
			if d == 0 {
				return 0, fmt.Errorf("eps %q divides by zero", s)
			}
			v /= d
		}
	}
	if err != nil {
		return 0, fmt.Errorf("eps %q is not a number or a fraction such as 8/255", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, fmt.Errorf("eps %q = %v, want a finite value > 0", s, v)
	}
	return v, nil
}

// ParseEpsList reads a comma-separated, strictly increasing list of budgets,
// each as ParseEps reads it ("2/255,4/255,8/255").
func ParseEpsList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := ParseEps(f)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && v <= out[len(out)-1] {
			return nil, fmt.Errorf("eps list %q must be strictly increasing: %v after %v", s, v, out[len(out)-1])
		}
		out = append(out, v)
	}
	return out, nil
}

// EpsValue is a flag.Value holding one budget read by ParseEps.
type EpsValue struct{ V *float64 }

func (e EpsValue) String() string {
	if e.V == nil {
		return ""
	}
	return strconv.FormatFloat(*e.V, 'g', -1, 64)
}

// Set parses s with ParseEps.
func (e EpsValue) Set(s string) error {
	v, err := ParseEps(s)
	if err != nil {
		return err
	}
	*e.V = v
	return nil
}
