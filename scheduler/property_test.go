package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// randomCluster builds hosts of mixed sizes, some labelled, a few not online.
func randomCluster(rng *rand.Rand, n int) []Host {
	hosts := make([]Host, n)
	for i := range hosts {
		h := host(fmt.Sprintf("h%d", i), gib(float64(int(4)<<rng.IntN(4))), cores(float64(int(2)<<rng.IntN(3))),
			images("zoe/a:1", "zoe/b:1"))
		if rng.IntN(4) == 0 {
			h.Labels = []string{"gpu"}
		}
		if rng.IntN(3) == 0 {
			h.Images = append(h.Images, "zoe/c:1")
		}
		switch rng.IntN(10) {
		case 0:
			h.State = Offline
		case 1:
			h.State = Disabled
		}
		hosts[i] = h
	}
	return hosts
}

// randomRequest is a ZApp-like request: one to three groups, each with
// essential and sometimes elastic instances, now and then a label, an image
// only some hosts have, or no reservation at all.
func randomRequest(rng *rand.Rand, id int64) Request {
	r := Request{ID: id, Order: id, Size: float64(rng.IntN(100))}
	for g := range 1 + rng.IntN(3) {
		mem, mc := gib(float64(rng.IntN(9))/2), cores(float64(rng.IntN(5))/2)
		var opts []instOption
		if rng.IntN(8) == 0 {
			opts = append(opts, labels("gpu"))
		}
		opts = append(opts, image([]string{"zoe/a:1", "zoe/b", "zoe/c:1"}[rng.IntN(3)]))
		essential, total := 1+rng.IntN(2), 1+rng.IntN(2)
		if rng.IntN(2) == 0 {
			total += rng.IntN(6)
		}
		for i := range max(essential, total) {
			r.Instances = append(r.Instances, instance(fmt.Sprintf("g%d-%d", g, i), i < essential, mem, mc, opts...))
		}
	}
	return r
}

// TestProperties replays random workloads through every configuration and
// lets the harness check each plan: no host over-committed, essential
// instances all or nothing, every queued request started or waiting with a
// reason, stops only of running elastic instances, FIFO order kept without
// back-filling. It also checks the bypass bound and that a second pass over
// an applied plan adds no essential instance that the first could have
// placed.
func TestProperties(t *testing.T) {
	for _, policy := range []Policy{FIFO, Size, DynSize} {
		for _, placement := range []Placement{Average, Waterfill, Random} {
			for _, backfill := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/backfill=%v", policy, placement, backfill)
				t.Run(name, func(t *testing.T) {
					for seed := range uint64(15) {
						checkRandomWorkload(t, Config{Policy: policy, Placement: placement, Backfill: backfill, MaxBypass: 3, Seed: int64(seed)}, seed)
					}
				})
			}
		}
	}
}

func checkRandomWorkload(t *testing.T, cfg Config, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	h := newHarness(t, cfg, randomCluster(rng, 1+rng.IntN(6))...)
	next := int64(1)
	for step := range 40 {
		switch e := rng.IntN(10); {
		case e < 5:
			for range 1 + rng.IntN(3) {
				h.submit(randomRequest(rng, next))
				next++
			}
		case e < 7 && len(h.snap.Requests) > 0:
			r := h.snap.Requests[rng.IntN(len(h.snap.Requests))]
			if r.Running {
				h.finish(r.ID)
			}
		case e < 9:
			for ri := range h.snap.Requests {
				r := &h.snap.Requests[ri]
				for ii := range r.Instances {
					if in := &r.Instances[ii]; !in.Essential && in.Host != "" && rng.IntN(4) == 0 {
						in.Dead = true
					}
				}
			}
		default:
			i := rng.IntN(len(h.snap.Hosts))
			h.snap.Hosts = append([]Host(nil), h.snap.Hosts...)
			h.snap.Hosts[i].State = HostState(rng.IntN(3))
		}
		before := h.snap
		p := h.pass() // checkPlan runs here
		for _, w := range p.Waiting {
			var was int
			for _, r := range before.Requests {
				if r.ID == w.Request {
					was = r.Bypassed
				}
			}
			if cfg.Backfill && w.Bypassed > max(was, h.s.cfg.MaxBypass) {
				t.Fatalf("seed %d step %d: request %d bypassed %d times, limit %d", seed, step, w.Request, w.Bypassed, h.s.cfg.MaxBypass)
			}
		}
		// The plan was applied: with nothing new, a second pass starts no
		// request and stops nothing (it may only add elastic instances
		// which a stop in the first pass made room for). Random placement
		// is exempt: another draw may pack a request that the first did
		// not.
		if cfg.Placement == Random {
			continue
		}
		again := h.s.Plan(h.snap)
		for _, a := range again.Starts {
			if a.Essential {
				t.Fatalf("seed %d step %d: second pass started %+v", seed, step, a)
			}
		}
		if len(again.Stops) != 0 {
			t.Fatalf("seed %d step %d: second pass stopped %+v", seed, step, again.Stops)
		}
	}
}

// TestSizeOrderWithoutBackfill checks that SIZE without back-filling never
// starts a request while a smaller one that could start on empty hosts
// waits.
func TestSizeOrderWithoutBackfill(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		s, err := New(Config{Policy: Size})
		if err != nil {
			t.Fatal(err)
		}
		snap := Snapshot{Hosts: randomCluster(rng, 3)}
		for id := range int64(20) {
			snap.Requests = append(snap.Requests, randomRequest(rng, id))
		}
		p := s.Plan(snap)
		size := map[int64]Request{}
		for _, r := range snap.Requests {
			size[r.ID] = r
		}
		for _, w := range p.Waiting {
			if len(w.Reason) > 9 && w.Reason[:9] == "cannot st" {
				continue
			}
			wr := size[w.Request]
			for _, a := range p.Starts {
				sr := size[a.Request]
				if a.Essential && (sr.Size > wr.Size || sr.Size == wr.Size && sr.Order > wr.Order) {
					t.Fatalf("seed %d: request %d (size %v) started while %d (size %v) waits: %s", seed, sr.ID, sr.Size, wr.ID, wr.Size, w.Reason)
				}
			}
		}
	}
}
