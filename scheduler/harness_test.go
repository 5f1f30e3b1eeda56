package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Fixture builders. Sizes read like the ZApps they stand for:
// host("h1", gib(8), cores(4), labels("gpu")).

func gib(n float64) int64   { return int64(n * (1 << 30)) }
func mib(n float64) int64   { return int64(n * (1 << 20)) }
func cores(n float64) int64 { return int64(n * 1000) }

type hostOption interface{ applyHost(*Host) }
type instOption interface{ applyInst(*Instance) }

type labelsOpt []string

func labels(l ...string) labelsOpt         { return l }
func (l labelsOpt) applyHost(h *Host)      { h.Labels = l }
func (l labelsOpt) applyInst(in *Instance) { in.Labels = l }
func (s stateOpt) applyHost(h *Host)       { h.State = HostState(s) }
func (im imagesOpt) applyHost(h *Host)     { h.Images = im }
func (im imageOpt) applyInst(in *Instance) { in.Image = string(im) }
func (o onOpt) applyInst(in *Instance)     { in.Host = string(o) }
func (deadOpt) applyInst(in *Instance)     { in.Dead = true }
func images(im ...string) imagesOpt        { return im }
func image(im string) imageOpt             { return imageOpt(im) }
func on(host string) onOpt                 { return onOpt(host) }
func dead() deadOpt                        { return deadOpt{} }
func state(s HostState) stateOpt           { return stateOpt(s) }

type (
	imagesOpt []string
	imageOpt  string
	onOpt     string
	deadOpt   struct{}
	stateOpt  HostState
)

func host(name string, mem, mc int64, opts ...hostOption) Host {
	h := Host{Name: name, Memory: mem, MilliCores: mc}
	for _, o := range opts {
		o.applyHost(&h)
	}
	return h
}

func instance(name string, essential bool, mem, mc int64, opts ...instOption) Instance {
	in := Instance{Name: name, Group: strings.TrimRight(name, "0123456789"), Essential: essential, Memory: mem, MilliCores: mc}
	for _, o := range opts {
		o.applyInst(&in)
	}
	return in
}

// ess and el build essential and elastic instances.
func ess(name string, mem, mc int64, opts ...instOption) Instance {
	return instance(name, true, mem, mc, opts...)
}

func el(name string, mem, mc int64, opts ...instOption) Instance {
	return instance(name, false, mem, mc, opts...)
}

// request builds a queued request; its submission order is its ID.
func request(id int64, ins ...Instance) Request {
	return Request{ID: id, Order: id, Instances: ins}
}

// running marks r's essential instances as assigned.
func running(r Request) Request {
	r.Running = true
	return r
}

func sized(size float64, r Request) Request {
	r.Size = size
	return r
}

// harness keeps a snapshot, runs passes over it, checks the invariants of
// every plan and applies it the way the lifecycle loop does.
type harness struct {
	t     testing.TB
	s     *Scheduler
	snap  Snapshot
	plans []Plan
}

func newHarness(t testing.TB, cfg Config, hosts ...Host) *harness {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return &harness{t: t, s: s, snap: Snapshot{Hosts: hosts}}
}

func (h *harness) submit(rs ...Request) { h.snap.Requests = append(h.snap.Requests, rs...) }

// pass plans, checks and applies.
func (h *harness) pass() Plan {
	h.t.Helper()
	p := h.s.Plan(h.snap)
	if err := checkPlan(h.s.cfg, h.snap, p); err != nil {
		h.t.Fatalf("pass %d: %v\nplan: %+v", len(h.plans)+1, err, p)
	}
	h.snap = apply(h.snap, p)
	h.plans = append(h.plans, p)
	return p
}

// finish removes a request, as when its execution ends.
func (h *harness) finish(id int64) {
	h.snap.Requests = slices.DeleteFunc(h.snap.Requests, func(r Request) bool { return r.ID == id })
}

// kill marks an instance dead.
func (h *harness) kill(id int64, name string) {
	h.t.Helper()
	for ri := range h.snap.Requests {
		r := &h.snap.Requests[ri]
		for ii := range r.Instances {
			if r.ID == id && r.Instances[ii].Name == name {
				r.Instances[ii].Dead = true
				return
			}
		}
	}
	h.t.Fatalf("kill: no instance %s in request %d", name, id)
}

// apply returns snap after the plan, leaving snap itself untouched.
func apply(snap Snapshot, p Plan) Snapshot {
	out := Snapshot{Now: snap.Now, Hosts: snap.Hosts, Requests: make([]Request, len(snap.Requests))}
	byID := map[int64]*Request{}
	for i, r := range snap.Requests {
		r.Instances = slices.Clone(r.Instances)
		out.Requests[i] = r
		byID[r.ID] = &out.Requests[i]
	}
	find := func(id int64, name string) *Instance {
		r := byID[id]
		for i := range r.Instances {
			if r.Instances[i].Name == name {
				return &r.Instances[i]
			}
		}
		panic(fmt.Sprintf("no instance %s in request %d", name, id))
	}
	for _, s := range p.Stops {
		find(s.Request, s.Instance).Host = ""
	}
	for _, a := range p.Starts {
		in := find(a.Request, a.Instance)
		in.Host, in.Dead = a.Host, false
		if a.Essential {
			byID[a.Request].Running = true
		}
	}
	for _, w := range p.Waiting {
		byID[w.Request].Bypassed = w.Bypassed
	}
	return out
}

// checkPlan verifies the invariants every plan must keep.
func checkPlan(cfg Config, snap Snapshot, p Plan) error {
	after := apply(snap, p)
	// No host over-committed: a host may only end above capacity if it
	// already was and the plan added nothing to it.
	use := func(s Snapshot) map[string][2]int64 {
		m := map[string][2]int64{}
		for _, r := range s.Requests {
			for _, in := range r.Instances {
				if in.Host != "" && !in.Dead {
					u := m[in.Host]
					m[in.Host] = [2]int64{u[0] + in.Memory, u[1] + in.MilliCores}
				}
			}
		}
		return m
	}
	before, now := use(snap), use(after)
	startedOn := map[string]bool{}
	for _, a := range p.Starts {
		startedOn[a.Host] = true
	}
	for _, host := range snap.Hosts {
		u := now[host.Name]
		if startedOn[host.Name] && (u[0] > host.Memory || u[1] > host.MilliCores) {
			return fmt.Errorf("host %s over-committed: %d/%d bytes, %d/%d milli-cores (before: %v)", host.Name, u[0], host.Memory, u[1], host.MilliCores, before[host.Name])
		}
		if startedOn[host.Name] && host.State != Online {
			return fmt.Errorf("instance started on %s host %s", host.State, host.Name)
		}
	}
	// Starts are new, stops are running elastic instances.
	type key struct {
		id   int64
		name string
	}
	inst := map[key]Instance{}
	req := map[int64]Request{}
	for _, r := range snap.Requests {
		req[r.ID] = r
		for _, in := range r.Instances {
			inst[key{r.ID, in.Name}] = in
		}
	}
	seen := map[key]bool{}
	for _, a := range p.Starts {
		k := key{a.Request, a.Instance}
		in, ok := inst[k]
		if !ok || seen[k] || (in.Host != "" && !in.Dead) || in.Essential != a.Essential {
			return fmt.Errorf("bad start %+v (instance %+v)", a, in)
		}
		seen[k] = true
	}
	for _, s := range p.Stops {
		in := inst[key{s.Request, s.Instance}]
		if in.Essential || in.Host != s.Host || in.Dead || !isAssigned(req[s.Request]) || s.Reason == "" {
			return fmt.Errorf("bad stop %+v (instance %+v)", s, in)
		}
		if seen[key{s.Request, s.Instance}] {
			return fmt.Errorf("instance stopped and started in one pass: %+v", s)
		}
	}
	// Essentials all or nothing; every queued request starts or waits,
	// with a reason.
	waiting := map[int64]Wait{}
	for i, w := range p.Waiting {
		if w.Position != i+1 || w.Reason == "" {
			return fmt.Errorf("bad wait %+v at index %d", w, i)
		}
		waiting[w.Request] = w
	}
	for _, r := range snap.Requests {
		if assigned(&r) {
			if _, ok := waiting[r.ID]; ok {
				return fmt.Errorf("running request %d listed as waiting", r.ID)
			}
			continue
		}
		pending, started := 0, 0
		for _, in := range r.Instances {
			if in.Essential {
				pending++
				if seen[key{r.ID, in.Name}] {
					started++
				}
			}
		}
		_, waits := waiting[r.ID]
		switch {
		case started != 0 && started != pending:
			return fmt.Errorf("request %d: %d of %d essential instances started", r.ID, started, pending)
		case started == pending && pending > 0 && waits:
			return fmt.Errorf("request %d started and waits", r.ID)
		case started == 0 && pending > 0 && !waits:
			return fmt.Errorf("request %d neither started nor waiting", r.ID)
		}
		if started == 0 {
			for _, in := range r.Instances {
				if seen[key{r.ID, in.Name}] {
					return fmt.Errorf("request %d: elastic %s started without its essentials", r.ID, in.Name)
				}
			}
		}
	}
	// Without back-filling under FIFO, nothing overtakes a request that
	// could start on empty hosts.
	if !cfg.Backfill && (cfg.Policy == FIFO || cfg.Policy == "") {
		for _, w := range p.Waiting {
			if strings.HasPrefix(w.Reason, "cannot start even on empty hosts") {
				continue
			}
			for _, a := range p.Starts {
				if a.Essential && req[a.Request].Order > req[w.Request].Order {
					return fmt.Errorf("request %d started ahead of waiting request %d (%s)", a.Request, w.Request, w.Reason)
				}
			}
		}
	}
	return nil
}

func isAssigned(r Request) bool { return assigned(&r) }
