package scheduler

// Plan is the outcome of one pass. The caller applies Stops before Starts:
// some starts use room that the stops free.
type Plan struct {
	// Starts lists the essential instances of each admitted request
	// together, in admission order, then the elastic instances.
	Starts []Assignment
	// Stops lists running elastic instances that give way to the essential
	// instances of another request.
	Stops []Stop
	// Waiting lists every queued request that was not admitted, by position.
	Waiting []Wait
}

// Assignment places one instance on one host.
type Assignment struct {
	Request   int64
	Instance  string
	Host      string
	Essential bool
}

// Stop ends one running elastic instance. It is placed again when room
// frees up, not in the same pass.
type Stop struct {
	Request  int64
	Instance string
	Host     string
	Reason   string // e.g. "gives way to essential instances of request 42"
}

// Wait says why a queued request did not start.
type Wait struct {
	Request  int64
	Position int    // 1-based position among waiting requests, in policy order
	Reason   string // one line, always set
	// Hosts gives the reason host by host, against the state the plan leaves
	// behind. Only the first Config.Explain waiting requests get it: a full
	// explanation of a long queue on many hosts would cost more than the pass.
	Hosts []HostReason
	// Bypassed is the request's new bypass count, for Request.Bypassed.
	Bypassed int
}

// HostReason says why one host cannot take a request's essential instances
// now. Reason is empty when the host could take them all; the request then
// waits for another reason, given in Wait.Reason.
type HostReason struct {
	Host   string
	Reason string
}

func (r HostReason) String() string {
	if r.Reason == "" {
		return r.Host + ": fits"
	}
	return r.Host + ": " + r.Reason
}
