package eval

import (
	"runtime"
	"runtime/debug"
	"time"
)

// modulePath is this module's path, looked up in the build information.
const modulePath = "github.com/gorobust/gorobust"

// recordedDeps are the dependencies whose versions a report records: those
// the numbers of an evaluation depend on.
var recordedDeps = []string{"gorgonia.org/gorgonia", "gorgonia.org/tensor", "gonum.org/v1/gonum"}

// environment describes the running binary and machine.
func environment(start time.Time) Environment {
	env := Environment{
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Module:     modulePath,
		Started:    start.UTC().Format(time.RFC3339),
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return env
	}
	mods := map[string]string{bi.Main.Path: bi.Main.Version}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			mods[d.Path] = d.Replace.Version + " (replaced by " + d.Replace.Path + ")"
			continue
		}
		mods[d.Path] = d.Version
	}
	env.ModuleVersion = mods[modulePath]
	for _, p := range recordedDeps {
		if v, ok := mods[p]; ok {
			if env.Dependencies == nil {
				env.Dependencies = map[string]string{}
			}
			env.Dependencies[p] = v
		}
	}
	if bi.Main.Path == modulePath {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				env.Revision = s.Value
			case "vcs.modified":
				env.Modified = s.Value == "true"
			}
		}
	}
	return env
}
