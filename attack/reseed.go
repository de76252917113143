package attack

import "github.com/gorobust/gorobust/robust"

// The randomized attacks implement robust.Reseedable so that a trainer can
// give every batch fresh random starts while staying reproducible from one
// seed. FGSM is deterministic and does not.
var (
	_ robust.Reseedable = PGD{}
	_ robust.Reseedable = APGD{}
	_ robust.Reseedable = APGDT{}
	_ robust.Reseedable = Square{}
)

// WithSeed implements robust.Reseedable: a copy of a with Seed set to seed.
func (a PGD) WithSeed(seed uint64) robust.Attack { a.Seed = seed; return a }

// WithSeed implements robust.Reseedable: a copy of a with Seed set to seed.
func (a APGD) WithSeed(seed uint64) robust.Attack { a.Seed = seed; return a }

// WithSeed implements robust.Reseedable: a copy of a with Seed set to seed.
func (a APGDT) WithSeed(seed uint64) robust.Attack { a.Seed = seed; return a }

// WithSeed implements robust.Reseedable: a copy of a with Seed set to seed.
func (a Square) WithSeed(seed uint64) robust.Attack { a.Seed = seed; return a }
