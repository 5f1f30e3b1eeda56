package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// readyNetworks are the pooled networks of h1 that no execution recorded
// and no container uses, as the engine and the store tell.
func (e *env) readyNetworks() []string {
	e.t.Helper()
	ns, err := e.m.unclaimed(context.Background(), "h1")
	if err != nil {
		e.t.Fatal(err)
	}
	return ns
}

// waitReady waits until h1 has exactly n ready networks and returns them.
func (e *env) waitReady(n int) []string {
	e.t.Helper()
	var got []string
	waitFor(e.t, 30*time.Second, fmt.Sprintf("%d ready networks", n), func() []string {
		if got = e.readyNetworks(); len(got) != n {
			return []string{fmt.Sprintf("got ready networks %v, want %d", got, n)}
		}
		return nil
	})
	return got
}

// attached returns the names of the containers on network name of h1.
func (e *env) attached(name string) []string {
	e.t.Helper()
	out, err := exec.Command("docker", "-H", e.be.Hosts()[0].Address, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", name).CombinedOutput()
	if err != nil {
		e.t.Fatalf("inspect network %s: %v: %s", name, err, out)
	}
	names := strings.Fields(string(out))
	sort.Strings(names)
	return names
}

// networkGone waits until h1 has no network called name.
func (e *env) networkGone(name string) {
	e.t.Helper()
	waitFor(e.t, 30*time.Second, "network "+name+" removed", func() []string {
		ns, err := e.be.Networks(context.Background(), "h1")
		if err != nil {
			return []string{err.Error()}
		}
		if slices.Contains(ns, name) {
			return []string{fmt.Sprintf("network %s is still there", name)}
		}
		return nil
	})
}

// containerNames are the container names of execution id's services.
func (e *env) containerNames(id int64) []string {
	e.t.Helper()
	var out []string
	for _, s := range e.services(id) {
		out = append(out, zapp.DNSName(s.Name, id, e.dep))
	}
	sort.Strings(out)
	return out
}

func (e *env) poolReady() []string {
	e.m.pool.mu.Lock()
	defer e.m.pool.mu.Unlock()
	out := slices.Clone(e.m.pool.ready["h1"])
	sort.Strings(out)
	return out
}

func TestLaunchWithNetworkPool(t *testing.T) {
	for _, size := range []int{0, 2} {
		t.Run(fmt.Sprintf("pool %d", size), func(t *testing.T) {
			e := newEnvConfig(t, func(c *Config) { c.NetworkPool = size })
			ready := e.waitReady(size)

			id := e.submit(description("one", svc{name: "app", cmd: "sleep 600"}))
			x := e.waitStatus(id, store.StatusRunning)
			network := e.m.networkFor(x, e.services(id))
			if size == 0 {
				if x.Network != "" || network != e.m.ownNetwork(id) {
					t.Errorf("got network %q (recorded %q), want the execution's own %s, unrecorded", network, x.Network, e.m.ownNetwork(id))
				}
			} else if !slices.Contains(ready, x.Network) || network != x.Network {
				t.Errorf("got network %q (recorded %q), want one of the ready %v", network, x.Network, ready)
			}
			if got, want := e.attached(network), e.containerNames(id); !slices.Equal(got, want) {
				t.Errorf("containers on %s: got %v, want %v", network, got, want)
			}
			// The pool is topped up after the launch, without the
			// claimed network.
			if again := e.waitReady(size); slices.Contains(again, x.Network) {
				t.Errorf("the claimed network %s is ready again: %v", x.Network, again)
			}

			if err := e.m.Terminate(context.Background(), id, "test over"); err != nil {
				t.Fatal(err)
			}
			e.waitStatus(id, store.StatusTerminated)
			e.networkGone(network)
			e.waitReady(size)
		})
	}
}

func TestPooledNetworksAreNeverShared(t *testing.T) {
	e := newEnvConfig(t, func(c *Config) { c.NetworkPool = 2 })
	e.waitReady(2)
	d := description("pair", svc{name: "one", cmd: "sleep 600"}, svc{name: "two", cmd: "sleep 600"})
	var ids []int64
	for range 5 {
		ids = append(ids, e.submit(d))
	}
	owner := map[string]int64{}
	claimed := 0
	for _, id := range ids {
		x := e.waitStatus(id, store.StatusRunning)
		network := e.m.networkFor(x, e.services(id))
		if other, ok := owner[network]; ok {
			t.Errorf("executions %d and %d share network %s", other, id, network)
		}
		owner[network] = id
		if x.Network != "" {
			claimed++
		}
		if want := e.containerNames(id); len(want) != 2 {
			t.Errorf("execution %d: got services %v, want two", id, want)
		} else if got := e.attached(network); !slices.Equal(got, want) {
			t.Errorf("execution %d: containers on %s: got %v, want %v", id, network, got, want)
		}
	}
	if claimed == 0 {
		t.Errorf("no execution claimed a ready network: %v", owner)
	}
	for _, n := range e.waitReady(2) {
		if id, ok := owner[n]; ok {
			t.Errorf("network %s of execution %d is ready again", n, id)
		}
	}
}

func TestNetworkPoolAfterRestart(t *testing.T) {
	e := newEnvConfig(t, func(c *Config) { c.NetworkPool = 2 })
	ctx := context.Background()
	e.waitReady(2)
	a := e.submit(description("first", svc{name: "app", cmd: "sleep 600"}))
	xa := e.waitStatus(a, store.StatusRunning)
	if xa.Network == "" {
		t.Fatalf("execution %d claimed no ready network", a)
	}
	ready := e.waitReady(2)
	before := e.services(a)

	// While no Zoe runs: a pooled network that a process claimed in
	// memory and put a container on, but died before recording it. It
	// must not be handed out again; once its container is gone (it
	// belongs to no execution) the network goes too.
	e.m.Stop()
	stray := e.m.poolName()
	if err := e.be.EnsureNetwork(ctx, "h1", stray, map[string]string{backend.LabelPool: backend.PoolReady}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.be.Start(ctx, "h1", backend.ServiceSpec{Name: "stray-" + e.dep, Image: "zoe/busybox:test", Command: []string{"sleep", "600"}, Network: stray}); err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	e.m = New(e.st, e.be, sch, e.m.cfg)
	e.m.Start(ctx)

	// The ready networks are taken back, and only them.
	if got := e.poolReady(); !slices.Equal(got, ready) {
		t.Errorf("after restart: got ready %v, want the previous ready %v (not %s nor %s)", got, ready, xa.Network, stray)
	}
	e.networkGone(stray)
	if got := e.waitStatus(a, store.StatusRunning); got.Network != xa.Network {
		t.Errorf("execution %d: got network %q after restart, want %q", a, got.Network, xa.Network)
	}
	if after := e.services(a); after[0].BackendID != before[0].BackendID {
		t.Errorf("execution %d: container changed over the restart: %.12s, then %.12s", a, before[0].BackendID, after[0].BackendID)
	}

	b := e.submit(description("second", svc{name: "app", cmd: "sleep 600"}))
	xb := e.waitStatus(b, store.StatusRunning)
	if !slices.Contains(ready, xb.Network) {
		t.Errorf("execution %d: got network %q, want one of the ready %v", b, xb.Network, ready)
	}
	if got, want := e.attached(xa.Network), e.containerNames(a); !slices.Equal(got, want) {
		t.Errorf("containers on %s: got %v, want %v", xa.Network, got, want)
	}
}

func TestPoolBookkeeping(t *testing.T) {
	p := newPool(2)
	if got := p.short([]string{"h1", "h2"}); !maps.Equal(got, map[string]int{"h1": 2, "h2": 2}) {
		t.Errorf("short on an empty pool: got %v, want 2 for each host", got)
	}
	if got := p.short([]string{"h1"}); len(got) > 0 {
		t.Errorf("short while filling: got %v, want nothing (one fill at a time)", got)
	}
	p.reserve("n1")
	if !p.known()["n1"] {
		t.Error("a network being made is not known: the sweep would remove it")
	}
	p.done("h1", "n1", true)
	p.reserve("n2")
	p.done("h1", "n2", true)
	p.reserve("n3")
	p.done("h1", "n3", false) // making it failed
	p.filled()
	if got := p.short([]string{"h1"}); len(got) > 0 {
		t.Errorf("short on a full pool: got %v, want nothing", got)
	}

	name, ok := p.take("h1")
	if !ok || name != "n1" || !p.known()["n1"] {
		t.Errorf("take: got %q %v, want n1, still known until done", name, ok)
	}
	p.done("h1", name, false)
	if _, ok := p.take("h2"); ok {
		t.Error("take on a host with no ready network: got one")
	}

	tests := []struct {
		name          string
		before, exist map[string]bool
		want          []string
	}{
		{"listed", map[string]bool{"n2": true}, map[string]bool{"n2": true}, []string{"n2"}},
		{"made after the list", map[string]bool{}, map[string]bool{}, []string{"n2"}},
		{"removed behind Zoe's back", map[string]bool{"n2": true}, map[string]bool{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newPool(2)
			q.done("h1", "n2", true)
			q.forget("h1", tt.before, tt.exist)
			if got := q.ready["h1"]; !slices.Equal(got, tt.want) {
				t.Errorf("got ready %v, want %v", got, tt.want)
			}
		})
	}
}

// One-container executions share the host's isolated solo network: no
// network is made for them, they cannot reach each other, the engine's
// host reaches them (the proxy's container target), and the network
// outlives them. Executions of several containers keep networks of their
// own.
func TestSoloNetwork(t *testing.T) {
	e := newEnvConfig(t, func(c *Config) { c.NetworkPool, c.SoloNetwork = 1, true })
	ctx := context.Background()
	solo := e.m.soloNetwork()

	srv := e.submit(description("srv", svc{name: "web", cmd: "httpd -f -p 8000 -h /etc"}))
	xs := e.waitStatus(srv, store.StatusRunning)
	if xs.Network != solo || e.m.networkFor(xs, e.services(srv)) != solo {
		t.Fatalf("one-container execution: got network %q, want %s", xs.Network, solo)
	}
	out, err := exec.Command("docker", "-H", e.be.Hosts()[0].Address, "inspect", "-f",
		`{{(index .NetworkSettings.Networks "`+solo+`").IPAddress}} {{(index .NetworkSettings.Networks "`+solo+`").Aliases}}`,
		e.containerNames(srv)[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect: %v: %s", err, out)
	}
	ip, aliases, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if slices.Contains(strings.Fields(strings.Trim(aliases, "[]")), "web") {
		t.Errorf("got aliases %s on the solo network, want no short name: it would resolve to other executions", aliases)
	}
	waitFor(t, 30*time.Second, "the host reaches the service on the solo network", func() []string {
		resp, err := http.Get("http://" + ip + ":8000/passwd")
		if err != nil {
			return []string{err.Error()}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return []string{resp.Status}
		}
		return nil
	})

	// The probe also tries to announce itself at the server's address (the
	// ARP a thief would forge to take the server's traffic): without raw
	// sockets it cannot.
	probe := fmt.Sprintf("sh -c 'if wget -q -T 3 -O /dev/null http://%[1]s:8000/passwd; then echo REACHED; else echo BLOCKED; fi; "+
		"if arping -U -c 1 -w 1 -I eth0 %[1]s 2>&1 | grep -q \"not permitted\"; then echo NORAW; else echo RAW; fi; sleep 600'", ip)
	cl := e.submit(description("client", svc{name: "probe", cmd: probe}))
	xc := e.waitStatus(cl, store.StatusRunning)
	if xc.Network != solo {
		t.Errorf("second one-container execution: got network %q, want %s", xc.Network, solo)
	}
	waitFor(t, 30*time.Second, "the probe's verdict", func() []string {
		switch got := e.exec(e.services(cl)[0], ""); {
		case strings.Contains(got, "REACHED"):
			t.Fatalf("an execution on the solo network reached another's service at %s", ip)
		case strings.Contains(got, "RAW") && !strings.Contains(got, "NORAW"):
			t.Fatalf("an execution on the solo network could send ARP: %q", got)
		case strings.Contains(got, "BLOCKED") && strings.Contains(got, "NORAW"):
			return nil
		}
		return []string{"no verdict yet"}
	})

	pair := e.submit(description("pair", svc{name: "one", cmd: "sleep 600"}, svc{name: "two", cmd: "sleep 600"}))
	xp := e.waitStatus(pair, store.StatusRunning)
	if n := e.m.networkFor(xp, e.services(pair)); n == solo {
		t.Errorf("two-container execution: got the solo network, want one of its own")
	}
	if got, want := e.attached(solo), slices.Sorted(slices.Values(append(e.containerNames(srv), e.containerNames(cl)...))); !slices.Equal(got, want) {
		t.Errorf("containers on %s: got %v, want %v", solo, got, want)
	}

	for _, id := range []int64{srv, cl, pair} {
		if err := e.m.Terminate(ctx, id, "test over"); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(id, store.StatusTerminated)
	}
	e.m.sweepNetworks(ctx)
	if ns, err := e.be.Networks(ctx, "h1"); err != nil || !slices.Contains(ns, solo) {
		t.Errorf("after the executions ended and a sweep: got networks %v (%v), want %s kept", ns, err, solo)
	}

	// Removed behind Zoe's back: the sweep notices, and the next launch
	// makes it again.
	if err := e.be.RemoveNetwork(ctx, "h1", solo); err != nil {
		t.Fatal(err)
	}
	e.m.sweepNetworks(ctx)
	again := e.submit(description("again", svc{name: "app", cmd: "sleep 600"}))
	if x := e.waitStatus(again, store.StatusRunning); x.Network != solo {
		t.Errorf("after the solo network was removed: got network %q, want %s", x.Network, solo)
	}
}

// A network of the solo network's name that lets its containers reach
// each other is refused, not used.
func TestSoloNetworkNotIsolated(t *testing.T) {
	e := newEnvConfig(t, func(c *Config) { c.SoloNetwork = true })
	if err := e.be.EnsureNetwork(context.Background(), "h1", e.m.soloNetwork(), nil); err != nil {
		t.Fatal(err)
	}
	id := e.submit(description("solo", svc{name: "app", cmd: "sleep 600"}))
	x := e.waitStatus(id, store.StatusError)
	if !strings.Contains(x.ErrorMessage, "lets its containers reach each other") {
		t.Errorf("got message %q, want it to refuse the network that is not isolated", x.ErrorMessage)
	}
}
