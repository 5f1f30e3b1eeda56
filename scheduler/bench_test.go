package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchSnapshot is a busy cluster: hosts hosts of 64 GiB and 16 cores,
// a tenth of them with a GPU, about half their memory held by running
// requests that have elastic instances, and queued requests waiting.
func benchSnapshot(hosts, queued int) Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	imgs := []string{"zoe/spark:2.4", "zoe/jupyter:6.4", "zoe/tf:2.1", "zoe/r:4", "zoe/busybox:test"}
	snap := Snapshot{Now: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}
	for i := range hosts {
		h := host(fmt.Sprintf("host%04d", i), gib(64), cores(16), images(imgs...))
		if i%10 == 0 {
			h.Labels = []string{"gpu"}
		}
		snap.Hosts = append(snap.Hosts, h)
	}
	id := int64(0)
	// Running: per host one request of 2 essential × 8 GiB and 2 elastic
	// × 8 GiB, i.e. 32 of 64 GiB.
	for i := range hosts {
		id++
		on := on(snap.Hosts[i].Name)
		r := running(request(id,
			ess("m0", gib(8), cores(1), on, image(imgs[0])), ess("w0", gib(8), cores(2), on, image(imgs[0])),
			el("w1", gib(8), cores(2), on, image(imgs[0])), el("w2", gib(8), cores(2), on, image(imgs[0])),
		))
		snap.Requests = append(snap.Requests, r)
	}
	for range queued {
		id++
		r := Request{ID: id, Order: id, Size: float64(rng.IntN(1000)), Queued: snap.Now.Add(-time.Duration(rng.IntN(3600)) * time.Second)}
		for g := range 1 + rng.IntN(3) {
			mem, mc := gib(float64(1+rng.IntN(16))), cores(float64(1+rng.IntN(4)))
			opts := []instOption{image(imgs[rng.IntN(len(imgs))])}
			if rng.IntN(20) == 0 {
				opts = append(opts, labels("gpu"))
			}
			essential, total := 1, 1+rng.IntN(4)
			for i := range total {
				r.Instances = append(r.Instances, instance(fmt.Sprintf("g%d-%d", g, i), i < essential, mem, mc, opts...))
			}
		}
		snap.Requests = append(snap.Requests, r)
	}
	return snap
}

// BenchmarkPlan10kx1k is one pass over 10,000 queued requests and 1,000
// hosts, for each policy and placement, with back-filling on so that every
// queued request is tried.
func BenchmarkPlan10kx1k(b *testing.B) {
	snap := benchSnapshot(1000, 10000)
	for _, cfg := range []Config{
		{Policy: FIFO, Placement: Average, Backfill: true},
		{Policy: FIFO, Placement: Waterfill, Backfill: true},
		{Policy: FIFO, Placement: Random, Backfill: true},
		{Policy: DynSize, Placement: Average, Backfill: true},
		{Policy: FIFO, Placement: Average},
	} {
		b.Run(fmt.Sprintf("%s-%s-backfill=%v", cfg.Policy, cfg.Placement, cfg.Backfill), func(b *testing.B) {
			s, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			var p Plan
			for b.Loop() {
				p = s.Plan(snap)
			}
			b.ReportMetric(float64(len(p.Starts)), "starts")
			b.ReportMetric(float64(len(p.Waiting)), "waiting")
		})
	}
}

// BenchmarkPlanGrowth shows how a pass grows with the queue and the hosts.
func BenchmarkPlanGrowth(b *testing.B) {
	for _, size := range []struct{ hosts, queued int }{{100, 1000}, {1000, 1000}, {100, 10000}, {1000, 10000}} {
		snap := benchSnapshot(size.hosts, size.queued)
		b.Run(fmt.Sprintf("hosts=%d/queued=%d", size.hosts, size.queued), func(b *testing.B) {
			s, err := New(Config{Backfill: true})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.Plan(snap)
			}
		})
	}
}
