package scheduler

import "time"

// HostState says whether a host may receive new instances.
type HostState int

const (
	// Online hosts receive instances.
	Online HostState = iota
	// Offline hosts are unreachable; instances recorded on them still count
	// as reserved until the caller marks them dead.
	Offline
	// Disabled hosts are drained for maintenance: what runs there keeps
	// running, nothing new is placed.
	Disabled
)

func (s HostState) String() string {
	switch s {
	case Online:
		return "online"
	case Offline:
		return "offline"
	case Disabled:
		return "disabled"
	}
	return "unknown"
}

// Host is one container engine and what it can hold.
type Host struct {
	Name       string
	Memory     int64 // capacity, bytes
	MilliCores int64 // capacity, thousandths of a core
	Labels     []string
	Images     []string // images present; "x" and "x:latest" are the same image
	State      HostState
}

// Instance is one container of a request: a service of the ZApp expands into
// essential and elastic instances.
type Instance struct {
	Name       string // e.g. "spark-worker3", unique within the request
	Group      string // the ZApp service it comes from, e.g. "spark-worker"
	Essential  bool
	Memory     int64 // reservation, bytes; zero is allowed
	MilliCores int64 // reservation; zero is allowed
	Labels     []string
	Image      string
	// Host is where the instance is assigned, "" if nowhere. The caller sets
	// it as soon as it accepts an assignment, before the container runs, so
	// that the next pass counts the reservation and never over-commits.
	Host string
	// Dead marks an instance whose container exited: its reservation is
	// released. A dead elastic instance is placed again; a dead essential one
	// is left to the caller, which ends the execution.
	Dead bool
}

// Request is one active execution: queued (nothing assigned yet) or running
// (its essential instances are assigned, elastic ones as room allows).
type Request struct {
	ID int64
	// Size is the ZApp's size hint, the SIZE policy's key.
	Size float64
	// Order is the submission order, FIFO's key and every policy's tie-break.
	Order int64
	// Queued is when the request entered the queue; DYNSIZE ages sizes by
	// the time waited since then, measured against Snapshot.Now.
	Queued    time.Time
	Instances []Instance
	// Running is true once the essential instances have been assigned (the
	// caller sets it when it applies the Start of a plan).
	Running bool
	// Bypassed counts the later requests that started while this one waited
	// with back-filling on. The scheduler is pure, so the caller stores the
	// Wait.Bypassed value of each plan here for the next pass.
	Bypassed int
}

// Snapshot is everything a pass decides from.
type Snapshot struct {
	Now   time.Time // DYNSIZE's clock; ignored by the other policies
	Hosts []Host
	// Requests are every active execution, queued and running. The
	// assigned, live instances of all of them are the hosts' reservations.
	Requests []Request
}
