// Package scheduler decides which service instances of Zoe's executions run
// on which host. It is pure: a pass reads a Snapshot and returns a Plan with
// the reason for everything it could not place. It has no goroutines, does
// no I/O and reads no clock, so the lifecycle loop of zoe serve and the
// virtual-time replay of zoe simulate run the same code. README.md draws the
// pipeline.
package scheduler

import (
	"errors"
	"fmt"
	"slices"
)

// Policy orders the queue.
type Policy string

// The policies of the original Zoe (inventory §4.3).
const (
	// FIFO admits requests in submission order.
	FIFO Policy = "FIFO"
	// Size admits the smallest Request.Size (the ZApp's hint) first.
	Size Policy = "SIZE"
	// DynSize admits the smallest resource footprint first, the footprint
	// shrinking while the request waits so that large requests do not starve.
	DynSize Policy = "DYNSIZE"
)

// Placement chooses among the hosts that fit an instance.
type Placement string

// The placements of the original Zoe (inventory §4.4).
const (
	// Average spreads: the host with the most free memory.
	Average Placement = "average"
	// Waterfill packs: the host with the least free memory that fits.
	Waterfill Placement = "waterfill"
	// Random picks uniformly, seeded by Config.Seed and the request ID so
	// that a pass is reproducible.
	Random Placement = "random"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBypass = 10
	DefaultExplain   = 10
)

// dynSizeAging is how much a DYNSIZE footprint (cores × bytes) shrinks per
// second waited: the original's 256 MiB per second, which lets a 1-core 1 GiB
// request overtake after 4 s and an 8-core 32 GiB one after about 17 min.
const dynSizeAging = 256 << 20

// ErrConfig reports a configuration the scheduler cannot run with.
var ErrConfig = errors.New("invalid scheduler configuration")

// Config selects the scheduler's behaviour.
type Config struct {
	Policy    Policy    // "" means FIFO
	Placement Placement // "" means average
	// Backfill lets a later request start while an earlier one waits for
	// room. MaxBypass bounds how often one request can be overtaken that way.
	Backfill bool
	// MaxBypass is the number of later requests that may start ahead of a
	// waiting one before it holds the queue; 0 means DefaultMaxBypass.
	MaxBypass int
	// PullImages tells the scheduler the back-end pulls missing images, so a
	// host need not have an instance's image already.
	PullImages bool
	// Seed drives the random placement.
	Seed int64
	// Explain is how many waiting requests, in queue order, get host-by-host
	// reasons; 0 means DefaultExplain, a negative value none. Every waiting
	// request gets a one-line reason regardless.
	Explain int
}

// Scheduler computes plans. It holds only its configuration, so one value
// may serve any number of passes.
type Scheduler struct {
	cfg Config
}

// New validates cfg and returns a scheduler.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Policy == "" {
		cfg.Policy = FIFO
	}
	if cfg.Placement == "" {
		cfg.Placement = Average
	}
	if !slices.Contains([]Policy{FIFO, Size, DynSize}, cfg.Policy) {
		return nil, fmt.Errorf("%w: policy %q: want FIFO, SIZE or DYNSIZE", ErrConfig, cfg.Policy)
	}
	if !slices.Contains([]Placement{Average, Waterfill, Random}, cfg.Placement) {
		return nil, fmt.Errorf("%w: placement %q: want average, waterfill or random", ErrConfig, cfg.Placement)
	}
	if cfg.MaxBypass < 0 {
		return nil, fmt.Errorf("%w: max bypass %d: must not be negative", ErrConfig, cfg.MaxBypass)
	}
	if cfg.MaxBypass == 0 {
		cfg.MaxBypass = DefaultMaxBypass
	}
	if cfg.Explain == 0 {
		cfg.Explain = DefaultExplain
	}
	return &Scheduler{cfg: cfg}, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Scheduler) Config() Config { return s.cfg }

// Plan runs one pass over snap. It does not modify snap.
func (s *Scheduler) Plan(snap Snapshot) Plan {
	p := newPass(s.cfg, &snap)
	p.admit()
	p.fillElastic()
	p.wait()
	return p.plan
}
