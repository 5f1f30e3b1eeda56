package scheduler

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"all named", Config{Policy: DynSize, Placement: Random, Backfill: true, MaxBypass: 3}, ""},
		{"bad policy", Config{Policy: "LIFO"}, `invalid scheduler configuration: policy "LIFO": want FIFO, SIZE or DYNSIZE`},
		{"policy is case-sensitive", Config{Policy: "fifo"}, `invalid scheduler configuration: policy "fifo": want FIFO, SIZE or DYNSIZE`},
		{"bad placement", Config{Placement: "spread"}, `invalid scheduler configuration: placement "spread": want average, waterfill or random`},
		{"negative bypass", Config{MaxBypass: -1}, `invalid scheduler configuration: max bypass -1: must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if s.Config().MaxBypass == 0 || s.Config().Policy == "" || s.Config().Placement == "" {
					t.Errorf("got config %+v, want defaults filled in", s.Config())
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrConfig) {
				t.Fatalf("got error %v, want %q wrapping ErrConfig", err, tt.wantErr)
			}
		})
	}
}

// planCase is one pass over a fixed snapshot.
type planCase struct {
	name    string
	cfg     Config
	now     time.Time
	hosts   []Host
	reqs    []Request
	starts  []Assignment
	stops   []Stop
	waiting []Wait // compared without Hosts
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg, tc.hosts...)
			h.snap.Now = tc.now
			h.submit(tc.reqs...)
			p := h.pass()
			if diff := cmp.Diff(tc.starts, p.Starts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("starts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stops, p.Stops, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.waiting, p.Waiting, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Wait{}, "Hosts")); diff != "" {
				t.Errorf("waiting (-want +got):\n%s", diff)
			}
		})
	}
}

func start(id int64, name, host string) Assignment {
	return Assignment{Request: id, Instance: name, Host: host, Essential: true}
}

func startEl(id int64, name, host string) Assignment {
	return Assignment{Request: id, Instance: name, Host: host}
}

func TestPolicies(t *testing.T) {
	// One 8 GiB host; requests of 6, 4 and 2 GiB, one core each, submitted
	// in that order.
	h1 := host("h1", gib(8), cores(8))
	r1 := sized(30, request(1, ess("a0", gib(6), cores(1))))
	r2 := sized(20, request(2, ess("b0", gib(4), cores(1))))
	r3 := sized(10, request(3, ess("c0", gib(2), cores(1))))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	aged := func(r Request, q time.Time) Request { r.Queued = q; return r }
	runPlanCases(t, []planCase{{
		// 8-6 = 2 GiB left: b0 (4) waits, c0 (2) would fit but FIFO holds it.
		name:   "FIFO admits in submission order",
		cfg:    Config{Policy: FIFO},
		hosts:  []Host{h1},
		reqs:   []Request{r1, r2, r3},
		starts: []Assignment{start(1, "a0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 2 GiB free on any host"},
			{Request: 3, Position: 2, Reason: "waits for request 2, ahead in FIFO order, to start first"},
		},
	}, {
		// Sizes 10, 20, 30: c0 (2) leaves 6, b0 (4) leaves 2, a0 (6) waits.
		name:    "SIZE admits the smallest hint first",
		cfg:     Config{Policy: Size},
		hosts:   []Host{h1},
		reqs:    []Request{r1, r2, r3},
		starts:  []Assignment{start(3, "c0", "h1"), start(2, "b0", "h1")},
		waiting: []Wait{{Request: 1, Position: 1, Reason: "a0 needs 6 GiB memory, at most 2 GiB free on any host"}},
	}, {
		// The hint is ignored: footprints are 6, 4 and 2 GiB·core, so the
		// same order as SIZE above, although r3's hint is now the largest.
		name:    "DYNSIZE admits the smallest footprint first",
		cfg:     Config{Policy: DynSize},
		hosts:   []Host{h1},
		reqs:    []Request{sized(1, r1), sized(2, r2), sized(99, r3)},
		starts:  []Assignment{start(3, "c0", "h1"), start(2, "b0", "h1")},
		waiting: []Wait{{Request: 1, Position: 1, Reason: "a0 needs 6 GiB memory, at most 2 GiB free on any host"}},
	}, {
		// a0's 6 GiB·core footprint shrinks by 256 MiB per second: gone
		// after 24 s. After 30 s it goes first (6 of 8 GiB), then c0 (2,
		// footprint 2) fills the host and b0 (footprint 4) waits.
		name:    "DYNSIZE ages waiting requests",
		cfg:     Config{Policy: DynSize},
		now:     t0.Add(30 * time.Second),
		hosts:   []Host{h1},
		reqs:    []Request{aged(r1, t0), aged(r2, t0.Add(30*time.Second)), aged(r3, t0.Add(30*time.Second))},
		starts:  []Assignment{start(1, "a0", "h1"), start(3, "c0", "h1")},
		waiting: []Wait{{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 0 B free on any host"}},
	}, {
		// Equal sizes fall back to submission order.
		name:   "SIZE ties keep submission order",
		cfg:    Config{Policy: Size},
		hosts:  []Host{h1},
		reqs:   []Request{sized(5, r2), sized(5, r1)},
		starts: []Assignment{start(1, "a0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 2 GiB free on any host"},
		},
	}})
}

func TestPlacements(t *testing.T) {
	// Free memory: h1 8 GiB, h2 16 GiB, h3 4 GiB; 8 cores each.
	hosts := []Host{host("h1", gib(8), cores(8)), host("h2", gib(16), cores(8)), host("h3", gib(4), cores(8))}
	runPlanCases(t, []planCase{{
		name:   "average takes the most free memory",
		cfg:    Config{Placement: Average},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(2), cores(1)))},
		starts: []Assignment{start(1, "a0", "h2")},
	}, {
		name:   "waterfill takes the least free memory that fits",
		cfg:    Config{Placement: Waterfill},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(2), cores(1)))},
		starts: []Assignment{start(1, "a0", "h3")},
	}, {
		// h3 (4 GiB) is too small for 6 GiB; h1 (8) is the tightest fit.
		name:   "waterfill skips hosts that do not fit",
		cfg:    Config{Placement: Waterfill},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(6), cores(1)))},
		starts: []Assignment{start(1, "a0", "h1")},
	}, {
		// a0: h2 16→12. a1: h2 12 > h1 8 → h2 12→8. a2: h1 and h2 both
		// 8 GiB; h1 has 8 free cores, h2 6, so h1.
		name:   "average spreads and breaks ties on free cores",
		cfg:    Config{Placement: Average},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(4), cores(1)), ess("a1", gib(4), cores(1)), ess("a2", gib(4), cores(1)))},
		starts: []Assignment{start(1, "a0", "h2"), start(1, "a1", "h2"), start(1, "a2", "h1")},
	}, {
		// a0: h3 4→0. a1: h1 8→4. a2: h1 and h3... h3 has 0, h1 4: h1.
		name:   "waterfill packs",
		cfg:    Config{Placement: Waterfill},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(4), cores(1)), ess("a1", gib(4), cores(1)), ess("a2", gib(4), cores(1)))},
		starts: []Assignment{start(1, "a0", "h3"), start(1, "a1", "h1"), start(1, "a2", "h1")},
	}, {
		// Equal hosts: the first in snapshot order wins.
		name:   "ties keep host order",
		cfg:    Config{Placement: Average},
		hosts:  []Host{host("h1", gib(8), cores(8)), host("h2", gib(8), cores(8))},
		reqs:   []Request{request(1, ess("a0", gib(1), cores(1)))},
		starts: []Assignment{start(1, "a0", "h1")},
	}})
}

func TestRandomPlacement(t *testing.T) {
	hosts := []Host{host("h1", gib(64), cores(64)), host("h2", gib(64), cores(64)), host("h3", gib(64), cores(64)), host("h4", gib(1), cores(64))}
	var reqs []Request
	for id := int64(1); id <= 40; id++ {
		reqs = append(reqs, request(id, ess("a0", gib(1.5), cores(1))))
	}
	plan := func(seed int64) Plan {
		s, err := New(Config{Placement: Random, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return s.Plan(Snapshot{Hosts: hosts, Requests: reqs})
	}
	a, b := plan(7), plan(7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different plans (-first +second):\n%s", diff)
	}
	used := map[string]int{}
	for _, s := range a.Starts {
		used[s.Host]++
	}
	// 1.5 GiB never fits h4 (1 GiB); the 40 instances spread over h1..h3.
	if used["h4"] != 0 || len(used) != 3 {
		t.Errorf("got hosts used %v, want h1, h2 and h3 only", used)
	}
	if diff := cmp.Diff(a.Starts, plan(8).Starts); diff == "" {
		t.Errorf("seeds 7 and 8 gave the same placements, want them to differ")
	}
}

func TestSemantics(t *testing.T) {
	runPlanCases(t, []planCase{{
		name:   "exact fit fits",
		hosts:  []Host{host("h1", gib(4), cores(2))},
		reqs:   []Request{request(1, ess("a0", gib(4), cores(2)))},
		starts: []Assignment{start(1, "a0", "h1")},
	}, {
		// h1 is full (4 of 4 GiB, 2 of 2 cores), yet a service with no
		// reservation still runs.
		name:   "zero-memory services are schedulable",
		hosts:  []Host{host("h1", gib(4), cores(2))},
		reqs:   []Request{running(request(1, ess("a0", gib(4), cores(2), on("h1")))), request(2, ess("b0", 0, 0))},
		starts: []Assignment{start(2, "b0", "h1")},
	}, {
		// Two 4 GiB hosts hold two 3 GiB instances, not three.
		name:  "essentials are all or nothing",
		hosts: []Host{host("h1", gib(4), cores(4)), host("h2", gib(4), cores(4))},
		reqs:  []Request{request(1, ess("a0", gib(3), cores(1)), ess("a1", gib(3), cores(1)), ess("a2", gib(3), cores(1)))},
		waiting: []Wait{{Request: 1, Position: 1,
			Reason: "cannot start even on empty hosts: its 3 essential instances do not fit together on the online hosts"}},
	}, {
		// h1 has 8 GiB, 2 used by m0; w1 (16 GiB) never fits but request 2
		// (2 GiB) starts anyway.
		name:  "a running request with unplaceable elastics does not block",
		hosts: []Host{host("h1", gib(8), cores(8))},
		reqs: []Request{
			running(request(1, ess("m0", gib(2), cores(1), on("h1")), el("w1", gib(16), cores(1)))),
			request(2, ess("b0", gib(2), cores(1))),
		},
		starts: []Assignment{start(2, "b0", "h1")},
	}, {
		// h1: 8 GiB, all held by request 1 (2 essential + 2 elastic × 2 GiB).
		// b0 needs 3 GiB: stopping w3 frees 2, not enough, w2 frees 2 more.
		name:  "elastic instances give way to later essentials",
		hosts: []Host{host("h1", gib(8), cores(8))},
		reqs: []Request{
			running(request(1, ess("m0", gib(2), cores(1), on("h1")), ess("w0", gib(2), cores(1), on("h1")),
				el("w2", gib(2), cores(1), on("h1")), el("w3", gib(2), cores(1), on("h1")))),
			request(2, ess("b0", gib(3), cores(1))),
		},
		starts: []Assignment{start(2, "b0", "h1")},
		stops: []Stop{
			{Request: 1, Instance: "w3", Host: "h1", Reason: "gives way to essential instances of request 2"},
			{Request: 1, Instance: "w2", Host: "h1", Reason: "gives way to essential instances of request 2"},
		},
	}, {
		// h1 is full of elastic instances but h2 has room: no stop.
		name:  "free room is preferred to stopping elastic instances",
		hosts: []Host{host("h1", gib(4), cores(8)), host("h2", gib(4), cores(8))},
		reqs: []Request{
			running(request(1, ess("m0", 0, cores(1), on("h1")), el("w1", gib(4), cores(1), on("h1")))),
			request(2, ess("b0", gib(3), cores(1))),
		},
		starts: []Assignment{start(2, "b0", "h2")},
	}, {
		// Essentials first: a0 and b0 leave 4-2-1 = 1 GiB. Then elastic
		// instances in policy order: a1 (2 GiB) does not fit, b1 (1) does.
		// Nothing is stopped for an elastic instance.
		name:  "elastic instances of new requests fill only free room",
		hosts: []Host{host("h1", gib(4), cores(8))},
		reqs: []Request{
			request(1, ess("a0", gib(2), cores(1)), el("a1", gib(2), cores(1))),
			request(2, ess("b0", gib(1), cores(1)), el("b1", gib(1), cores(1))),
		},
		starts: []Assignment{start(1, "a0", "h1"), start(2, "b0", "h1"), startEl(2, "b1", "h1")},
	}, {
		name:  "a dead elastic instance is replaced",
		hosts: []Host{host("h1", gib(4), cores(4))},
		reqs: []Request{
			running(request(1, ess("m0", gib(2), cores(1), on("h1")), el("w1", gib(2), cores(1), on("h1"), dead()))),
		},
		starts: []Assignment{startEl(1, "w1", "h1")},
	}, {
		// The caller ends an execution whose essential instance died.
		name:  "a dead essential instance is not replaced",
		hosts: []Host{host("h1", gib(4), cores(4))},
		reqs: []Request{
			running(request(1, ess("m0", gib(2), cores(1), on("h1"), dead()), el("w1", gib(2), cores(1)))),
		},
	}, {
		// The caller applied a plan and has not marked the request running
		// yet: its assigned essentials make it running all the same.
		name:  "a request whose essentials are all assigned is running",
		hosts: []Host{host("h1", gib(4), cores(4))},
		reqs: []Request{
			request(1, ess("m0", gib(2), cores(1), on("h1")), el("w1", gib(1), cores(1))),
		},
		starts: []Assignment{startEl(1, "w1", "h1")},
	}, {
		name:   "instances on offline and disabled hosts are not placed",
		hosts:  []Host{host("h1", gib(64), cores(64), state(Offline)), host("h2", gib(64), cores(64), state(Disabled)), host("h3", gib(1), cores(1))},
		reqs:   []Request{request(1, ess("a0", gib(1), cores(1)))},
		starts: []Assignment{start(1, "a0", "h3")},
	}})
}

func TestBackfill(t *testing.T) {
	// h1: 8 GiB, 6 held by request 1. Request 2 needs 4 GiB, which h1 will
	// have once request 1 ends; requests 3 and 4 need 1 GiB each.
	h1 := host("h1", gib(8), cores(8))
	r1 := running(request(1, ess("a0", gib(6), cores(1), on("h1"))))
	r2 := request(2, ess("b0", gib(4), cores(1)))
	r3 := request(3, ess("c0", gib(1), cores(1)))
	r4 := request(4, ess("d0", gib(1), cores(1)))
	bypassed := func(n int, r Request) Request { r.Bypassed = n; return r }
	runPlanCases(t, []planCase{{
		name:  "without back-filling the head holds the queue",
		hosts: []Host{h1},
		reqs:  []Request{r1, r2, r3},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 2 GiB free on any host"},
			{Request: 3, Position: 2, Reason: "waits for request 2, ahead in FIFO order, to start first"},
		},
	}, {
		// 2 GiB free: c0 and d0 start; request 2 was overtaken twice. Its
		// reason describes the host as the plan leaves it: full.
		name:   "back-filling starts later requests that fit",
		cfg:    Config{Backfill: true},
		hosts:  []Host{h1},
		reqs:   []Request{r1, r2, r3, r4},
		starts: []Assignment{start(3, "c0", "h1"), start(4, "d0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 0 B free on any host", Bypassed: 2},
		},
	}, {
		// MaxBypass 2 and request 2 already overtaken once: c0 may go
		// ahead (count 2), d0 may not.
		name:   "a request overtaken MaxBypass times holds the queue",
		cfg:    Config{Backfill: true, MaxBypass: 2},
		hosts:  []Host{h1},
		reqs:   []Request{r1, bypassed(1, r2), r3, r4},
		starts: []Assignment{start(3, "c0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "b0 needs 4 GiB memory, at most 1 GiB free on any host", Bypassed: 2},
			{Request: 4, Position: 2, Reason: "waits for request 2, overtaken 2 times by back-filling, to start first"},
		},
	}, {
		name:   "a request that can never start does not hold the queue",
		hosts:  []Host{h1},
		reqs:   []Request{r1, request(2, ess("b0", gib(16), cores(1))), r3},
		starts: []Assignment{start(3, "c0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "cannot start even on empty hosts: b0 needs 16 GiB memory, the largest online host has 8 GiB"},
		},
	}, {
		name:   "neither does one at its bypass limit",
		cfg:    Config{Backfill: true, MaxBypass: 1},
		hosts:  []Host{h1},
		reqs:   []Request{r1, bypassed(5, request(2, ess("b0", gib(16), cores(1)))), r3},
		starts: []Assignment{start(3, "c0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "cannot start even on empty hosts: b0 needs 16 GiB memory, the largest online host has 8 GiB", Bypassed: 5},
		},
	}})
}

func TestImagesAndLabels(t *testing.T) {
	hosts := []Host{
		host("h1", gib(8), cores(8), images("zoe/jupyter:6.4", "busybox:latest"), labels("ssd")),
		host("h2", gib(8), cores(8), images("zoe/jupyter:6.4"), labels("gpu"), state(Offline)),
	}
	runPlanCases(t, []planCase{{
		name:   "an image present on the host fits; x is x:latest",
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(1), cores(1), image("zoe/jupyter:6.4"))), request(2, ess("b0", gib(1), cores(1), image("busybox")))},
		starts: []Assignment{start(1, "a0", "h1"), start(2, "b0", "h1")},
	}, {
		name:    "a missing image is infeasible",
		hosts:   hosts,
		reqs:    []Request{request(1, ess("a0", gib(1), cores(1), image("zoe/spark:2.4")))},
		waiting: []Wait{{Request: 1, Position: 1, Reason: "cannot start even on empty hosts: a0 needs image zoe/spark:2.4, which no online host has"}},
	}, {
		name:   "unless images may be pulled",
		cfg:    Config{PullImages: true},
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(1), cores(1), image("zoe/spark:2.4")))},
		starts: []Assignment{start(1, "a0", "h1")},
	}, {
		name:   "labels must all be on the host",
		hosts:  hosts,
		reqs:   []Request{request(1, ess("a0", gib(1), cores(1), labels("ssd"))), request(2, ess("b0", gib(1), cores(1), labels("ssd", "gpu")))},
		starts: []Assignment{start(1, "a0", "h1")},
		waiting: []Wait{
			{Request: 2, Position: 1, Reason: "cannot start even on empty hosts: b0 needs label gpu, which no online host has"},
		},
	}})
}

func TestHostReasons(t *testing.T) {
	// h1 has the label and 8 - 6.5 = 1.5 GiB free; h2 lacks the label;
	// h3 is offline; h4 lacks the image.
	h := newHarness(t, Config{},
		host("h1", gib(8), cores(8), labels("gpu"), images("zoe/jupyter:6.4")),
		host("h2", gib(16), cores(8), images("zoe/jupyter:6.4")),
		host("h3", gib(16), cores(8), labels("gpu"), state(Offline)),
		host("h4", gib(16), cores(8), labels("gpu")),
		host("h5", gib(16), cores(0.5), labels("gpu"), images("zoe/jupyter:6.4")),
	)
	h.submit(
		running(request(1, ess("a0", gib(6.5), cores(1), on("h1")))),
		request(2, ess("jupyter0", gib(4), cores(1), labels("gpu"), image("zoe/jupyter:6.4"))),
	)
	p := h.pass()
	if len(p.Waiting) != 1 {
		t.Fatalf("got waiting %+v, want request 2 only", p.Waiting)
	}
	want := []HostReason{
		{"h1", "needs 4 GiB memory, 1.5 GiB free"},
		{"h2", "lacks label gpu"},
		{"h3", "offline"},
		{"h4", "lacks image zoe/jupyter:6.4"},
		{"h5", "needs 1 core, 0.5 free"},
	}
	if diff := cmp.Diff(want, p.Waiting[0].Hosts); diff != "" {
		t.Errorf("host reasons (-want +got):\n%s", diff)
	}
	wantReason := "jupyter0 fits no host: none with label gpu and image zoe/jupyter:6.4 has 4 GiB memory and 1 core free at once"
	if got := p.Waiting[0].Reason; got != wantReason {
		t.Errorf("got reason %q, want %q", got, wantReason)
	}
	if got, want := p.Waiting[0].Hosts[2].String(), "h3: offline"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestHostReasonsSeveralInstances(t *testing.T) {
	// Empty, h1 and h2 would hold a0 and a1. Now h2 has 4-2 = 2 GiB free:
	// a0 takes h1 (3 of 4 GiB) and a1 fits nowhere.
	h := newHarness(t, Config{}, host("h1", gib(4), cores(8)), host("h2", gib(4), cores(8)))
	h.submit(
		running(request(1, ess("x0", gib(2), cores(1), on("h2")))),
		request(2, ess("a0", gib(3), cores(1)), ess("a1", gib(3), cores(1))),
	)
	p := h.pass()
	want := []HostReason{
		{"h1", "a1 needs 3 GiB memory, 1 GiB free (after 1 of 2 essential instances)"},
		{"h2", "a0 needs 3 GiB memory, 2 GiB free"},
	}
	if diff := cmp.Diff(want, p.Waiting[0].Hosts); diff != "" {
		t.Errorf("host reasons (-want +got):\n%s", diff)
	}
	if got, want := p.Waiting[0].Reason, "after placing 1 of 2 essential instances, a1 fits no host: none has 3 GiB memory and 1 core free at once"; got != want {
		t.Errorf("got reason %q, want %q", got, want)
	}
}

func TestExplainLimit(t *testing.T) {
	h := newHarness(t, Config{Explain: 1, Backfill: true}, host("h1", gib(1), cores(1)))
	h.submit(request(1, ess("a0", gib(2), cores(1))), request(2, ess("b0", gib(2), cores(1))))
	p := h.pass()
	if len(p.Waiting) != 2 || len(p.Waiting[0].Hosts) != 1 || p.Waiting[1].Hosts != nil {
		t.Errorf("got waiting %+v, want host reasons for the first only", p.Waiting)
	}
}

func TestPassesNeverOverCommit(t *testing.T) {
	// The harness applies each plan as the lifecycle loop does, and checks
	// that no host ends above capacity.
	h := newHarness(t, Config{}, host("h1", gib(8), cores(4)))
	h.submit(request(1, ess("a0", gib(6), cores(1))))
	if p := h.pass(); len(p.Starts) != 1 {
		t.Fatalf("pass 1: got starts %+v, want a0", p.Starts)
	}
	h.submit(request(2, ess("b0", gib(6), cores(1))))
	if p := h.pass(); len(p.Starts) != 0 {
		t.Fatalf("pass 2: got starts %+v, want none: a0 still holds 6 of 8 GiB", p.Starts)
	}
	h.finish(1)
	if p := h.pass(); len(p.Starts) != 1 || p.Starts[0].Request != 2 {
		t.Fatalf("pass 3: got starts %+v, want b0 once a0 ended", p.Starts)
	}
}

func TestElasticLifecycle(t *testing.T) {
	// A Spark-like request: master and one worker essential, two elastic
	// workers, 2 GiB each, on one 8 GiB host.
	h := newHarness(t, Config{}, host("h1", gib(8), cores(8)))
	h.submit(request(1, ess("m0", gib(2), cores(1)), ess("w0", gib(2), cores(1)), el("w1", gib(2), cores(1)), el("w2", gib(2), cores(1))))
	if p := h.pass(); len(p.Starts) != 4 {
		t.Fatalf("pass 1: got %+v, want all four instances", p.Starts)
	}
	// A 4 GiB request arrives: w2 and w1 give way.
	h.submit(request(2, ess("b0", gib(4), cores(1))))
	p := h.pass()
	if len(p.Stops) != 2 || len(p.Starts) != 1 {
		t.Fatalf("pass 2: got stops %+v starts %+v, want w2 and w1 to give way to b0", p.Stops, p.Starts)
	}
	// Nothing changes until room frees up.
	if p := h.pass(); len(p.Starts)+len(p.Stops) != 0 {
		t.Fatalf("pass 3: got %+v, want an empty plan", p)
	}
	// Request 2 ends: the elastic workers come back.
	h.finish(2)
	p = h.pass()
	want := []Assignment{startEl(1, "w1", "h1"), startEl(1, "w2", "h1")}
	if diff := cmp.Diff(want, p.Starts); diff != "" {
		t.Fatalf("pass 4 (-want +got):\n%s", diff)
	}
	// w1 dies and is replaced.
	h.kill(1, "w1")
	if p := h.pass(); len(p.Starts) != 1 || p.Starts[0].Instance != "w1" {
		t.Fatalf("pass 5: got %+v, want w1 replaced", p.Starts)
	}
}

func TestStats(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	snap := Snapshot{
		Hosts: []Host{host("h1", gib(8), cores(4)), host("h2", gib(8), cores(4), state(Offline))},
		Requests: []Request{
			running(request(1, ess("a0", gib(2), cores(1), on("h1")), el("a1", gib(1), cores(0.5)))),
			request(2, ess("b0", gib(4), cores(2))),
			request(3, ess("c0", gib(4), cores(2))),
		},
	}
	p := s.Plan(snap)
	st := s.Stats(snap, p)
	// h1: a0 2 GiB + b0 4 GiB + a1 1 GiB = 7 of 8 GiB; 1 + 2 + 0.5 cores.
	want := []HostStats{
		{Name: "h1", State: Online, Memory: gib(8), MilliCores: cores(4), ReservedMemory: gib(7), ReservedMilliCores: cores(3.5), FreeMemory: gib(1), FreeMilliCores: cores(0.5), Instances: 3},
		{Name: "h2", State: Offline, Memory: gib(8), MilliCores: cores(4), FreeMemory: gib(8), FreeMilliCores: cores(4)},
	}
	if diff := cmp.Diff(want, st.Hosts); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1, 2}, st.Running); diff != "" {
		t.Errorf("running (-want +got):\n%s", diff)
	}
	if len(st.Queue) != 1 || st.Queue[0].Request != 3 || st.Queue[0].Position != 1 {
		t.Errorf("got queue %+v, want request 3 at position 1", st.Queue)
	}
	if st.Memory != gib(8) || st.ReservedMemory != gib(7) {
		t.Errorf("got totals %d/%d, want 7 of 8 GiB (offline host excluded)", st.ReservedMemory, st.Memory)
	}
	var c Counters
	c.Add(p)
	c.Add(Plan{})
	if want := (Counters{Passes: 2, RequestsStarted: 1, InstancesStarted: 2}); c != want {
		t.Errorf("got counters %+v, want %+v", c, want)
	}
}

func TestFormat(t *testing.T) {
	bytesCases := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1000, "1000 B"}, {1024, "1 KiB"}, {gib(1.5), "1.5 GiB"}, {gib(4), "4 GiB"},
		{mib(512), "512 MiB"}, {gib(1024), "1 TiB"}, {gib(2.25), "2.3 GiB"}, {-gib(2), "-2 GiB"},
	}
	for _, tc := range bytesCases {
		if got := formatBytes(tc.in); got != tc.want {
			t.Errorf("formatBytes(%d): got %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[int64]string{0: "0", 500: "0.5", 1500: "1.5", 16000: "16", 125: "0.125"} {
		if got := formatCores(in); got != want {
			t.Errorf("formatCores(%d): got %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"busybox": "busybox:latest", "zoe/x:1": "zoe/x:1", "reg:5000/x": "reg:5000/x:latest", "x@sha256:ab": "x@sha256:ab"} {
		if got := canonicalImage(in); got != want {
			t.Errorf("canonicalImage(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestExplain(t *testing.T) {
	s, err := New(Config{Explain: -1, Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	// b0 takes 3 of h1's 4 GiB; c0 (2 GiB) then finds 1 GiB free.
	snap := Snapshot{
		Hosts:    []Host{host("h1", gib(4), cores(4)), host("h2", gib(4), cores(4), state(Disabled))},
		Requests: []Request{request(1, ess("b0", gib(3), cores(1))), request(2, ess("c0", gib(2), cores(1)))},
	}
	p := s.Plan(snap)
	if len(p.Waiting) != 1 || p.Waiting[0].Hosts != nil {
		t.Fatalf("got waiting %+v, want request 2 without host reasons", p.Waiting)
	}
	want := []HostReason{{"h1", "needs 2 GiB memory, 1 GiB free"}, {"h2", "disabled"}}
	if diff := cmp.Diff(want, s.Explain(snap, p, 2)); diff != "" {
		t.Errorf("Explain(2) (-want +got):\n%s", diff)
	}
	if got := s.Explain(snap, p, 1); got != nil {
		t.Errorf("Explain(1): got %v, want nil for a request the plan starts", got)
	}
}
