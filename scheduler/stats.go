package scheduler

// Stats is what the portal and the API show about the scheduler: the queue
// with positions and reasons, the running executions and every host's
// reservations, all as the plan leaves them.
type Stats struct {
	Queue   []Wait  // by position
	Running []int64 // requests whose essential instances are assigned
	Hosts   []HostStats
	// Totals over online hosts.
	Memory, MilliCores                 int64
	ReservedMemory, ReservedMilliCores int64
	// Counters are kept by the caller across passes; Stats leaves them zero.
	Counters Counters
}

// HostStats is one host's capacity and reservations.
type HostStats struct {
	Name                               string
	State                              HostState
	Memory, MilliCores                 int64 // capacity
	ReservedMemory, ReservedMilliCores int64
	FreeMemory, FreeMilliCores         int64 // capacity minus reserved; negative if over-committed
	Instances                          int
}

// Counters accumulate over the life of a scheduler's caller.
type Counters struct {
	Passes           int64
	RequestsStarted  int64
	InstancesStarted int64
	InstancesStopped int64
}

// Add counts one pass and what its plan did.
func (c *Counters) Add(p Plan) {
	c.Passes++
	seen := map[int64]bool{}
	for _, a := range p.Starts {
		c.InstancesStarted++
		if a.Essential && !seen[a.Request] {
			seen[a.Request] = true
			c.RequestsStarted++
		}
	}
	c.InstancesStopped += int64(len(p.Stops))
}

// Stats describes snap with plan applied. plan should come from Plan(snap).
func (s *Scheduler) Stats(snap Snapshot, plan Plan) Stats {
	st := Stats{Queue: plan.Waiting}
	idx := make(map[string]int, len(snap.Hosts))
	st.Hosts = make([]HostStats, len(snap.Hosts))
	for i, h := range snap.Hosts {
		if _, dup := idx[h.Name]; !dup {
			idx[h.Name] = i
		}
		st.Hosts[i] = HostStats{Name: h.Name, State: h.State, Memory: h.Memory, MilliCores: h.MilliCores}
	}
	reserve := func(host string, mem, mc int64, n int) {
		if i, ok := idx[host]; ok {
			hs := &st.Hosts[i]
			hs.ReservedMemory += mem
			hs.ReservedMilliCores += mc
			hs.Instances += n
		}
	}
	type key struct {
		req  int64
		name string
	}
	byName := map[key]*Instance{}
	started := map[int64]bool{}
	for _, a := range plan.Starts {
		if a.Essential {
			started[a.Request] = true
		}
	}
	for ri := range snap.Requests {
		r := &snap.Requests[ri]
		if assigned(r) || started[r.ID] {
			st.Running = append(st.Running, r.ID)
		}
		for ii := range r.Instances {
			in := &r.Instances[ii]
			byName[key{r.ID, in.Name}] = in
			if in.Host != "" && !in.Dead {
				reserve(in.Host, in.Memory, in.MilliCores, 1)
			}
		}
	}
	for _, x := range plan.Stops {
		if in := byName[key{x.Request, x.Instance}]; in != nil {
			reserve(x.Host, -in.Memory, -in.MilliCores, -1)
		}
	}
	for _, a := range plan.Starts {
		if in := byName[key{a.Request, a.Instance}]; in != nil {
			reserve(a.Host, in.Memory, in.MilliCores, 1)
		}
	}
	for i := range st.Hosts {
		hs := &st.Hosts[i]
		hs.FreeMemory = hs.Memory - hs.ReservedMemory
		hs.FreeMilliCores = hs.MilliCores - hs.ReservedMilliCores
		if hs.State == Online {
			st.Memory += hs.Memory
			st.MilliCores += hs.MilliCores
			st.ReservedMemory += hs.ReservedMemory
			st.ReservedMilliCores += hs.ReservedMilliCores
		}
	}
	return st
}
