// Command launch measures Zoe's launch overhead: from submission to
// "running", and to "the endpoint answers", for a one-service busybox ZApp
// started through lifecycle.Manager (SQLite store, docker back-end, real
// scheduler), against a raw create-and-start (what `docker run -d` does) of
// the same image with the same limits, network and port publishing on the
// same engine. Runs alternate so that drift of the engine hits both; then
// n launches at once are compared with n raw runs at once, over several
// rounds in a rotating order, since one burst is too noisy to tell 5% from
// 25%.
//
// A third kind splits the difference: the docker back-end alone starts the
// very container Zoe's launch asked for (Zoe's options, the owner's
// workspace, the solo network), with no store, scheduler or loop. The
// back-end alone against raw is the engine's work for what Zoe asks; Zoe
// against the back-end alone is what the rest of Zoe adds.
//
// It prints a Markdown report on stdout; -cpuprofile writes a CPU profile
// of the whole run, and every Zoe launch is broken down by back-end call,
// so that the report says where the time goes.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/bench/load"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

const (
	image   = "zoe/busybox:test"
	command = "httpd -f -p 8080 -h /etc"
	memMin  = 32 << 20
	memMax  = 64 << 20
	cores   = 100 // milli-cores
	port    = 8080
)

func main() {
	host := flag.String("docker", os.Getenv("ZOE_TEST_DOCKER_HOST"), "Docker engine (unix:///… URL)")
	runs := flag.Int("runs", 10, "sequential launches of each kind")
	parallel := flag.Int("parallel", 20, "launches at once")
	bursts := flag.Int("bursts", 5, "rounds of launches at once, each kind once per round in a rotating order")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the Zoe launches to this file")
	pool := flag.Int("pool", 2, "ready networks Zoe keeps per host (backend-network-pool; 2 is zoe serve's default, 0 makes each at launch)")
	solo := flag.Bool("solo", true, "one-container executions join the host's isolated solo network (backend-solo-network; true is zoe serve's default)")
	flag.Parse()
	if *host == "" {
		fmt.Fprintln(os.Stderr, "launch: no Docker engine: set ZOE_TEST_DOCKER_HOST or -docker (scripts/bench.sh does)")
		os.Exit(2)
	}
	if *runs < 1 || *parallel < 1 || *bursts < 1 {
		fmt.Fprintln(os.Stderr, "launch: -runs, -parallel and -bursts must be at least 1")
		os.Exit(2)
	}
	if err := run(os.Stdout, *host, *runs, *parallel, *bursts, *pool, *solo, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		os.Exit(1)
	}
}

type bench struct {
	cli   *client.Client
	st    *store.Store
	be    *timedBackend
	alone *docker.Backend // the back-end alone, under a deployment of its own that Zoe's loop leaves alone
	spec  backend.ServiceSpec
	m     *lifecycle.Manager
	owner store.User
	dep   string
	net   string // the raw runs' pre-made network
	desc  *zapp.Description
	http  *http.Client
	pool  int  // ready networks per host
	solo  bool // the solo network is on

	launched chan time.Time // a Zoe execution reached running
}

func run(w io.Writer, host string, runs, atOnce, bursts, pool int, solo bool, cpuprofile string) error {
	ctx := context.Background()
	b, cleanup, err := setup(ctx, host, pool, solo)
	defer cleanup()
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// One of each first, unmeasured: the engine's first container after
	// start-up pays for caches both kinds would otherwise share unevenly.
	if _, err := b.raw(ctx, b.net); err != nil {
		return fmt.Errorf("warm-up raw run: %w", err)
	}
	if _, err := b.zoe(ctx); err != nil {
		return fmt.Errorf("warm-up launch: %w", err)
	}
	// The back-end alone starts the very container Zoe's launch asked for.
	b.spec = b.be.lastSpec()
	if _, err := b.backendOnly(ctx); err != nil {
		return fmt.Errorf("warm-up start by the back-end alone: %w", err)
	}

	var zoeRun, zoeUp, rawRun, rawUp, netRun, netUp, beRun, beUp []time.Duration
	calls := map[string][]callTime{}
	var other []time.Duration
	pooled := 0
	for i := range runs {
		r, err := b.raw(ctx, b.net)
		if err != nil {
			return fmt.Errorf("raw run %d: %w", i, err)
		}
		rawRun, rawUp = append(rawRun, r.running), append(rawUp, r.answers)
		r, err = b.raw(ctx, "")
		if err != nil {
			return fmt.Errorf("raw run with its own network %d: %w", i, err)
		}
		netRun, netUp = append(netRun, r.running), append(netUp, r.answers)
		r, err = b.backendOnly(ctx)
		if err != nil {
			return fmt.Errorf("start by the back-end alone %d: %w", i, err)
		}
		beRun, beUp = append(beRun, r.running), append(beUp, r.answers)
		r, err = b.zoe(ctx)
		if err != nil {
			return fmt.Errorf("launch %d: %w", i, err)
		}
		zoeRun, zoeUp = append(zoeRun, r.running), append(zoeUp, r.answers)
		if r.pooled {
			pooled++
		}
		var inCalls time.Duration
		for name, c := range r.calls {
			calls[name] = append(calls[name], c)
			if name != listCall && name != "Check" && name != topUp {
				inCalls += c.total
			}
		}
		other = append(other, r.running-inCalls)
	}

	// Bursts: each round runs every kind once, the first of one round
	// last in the next, so that none always follows the same other (a raw
	// burst with its own networks leaves the engine removing twenty).
	var pr, pn, pb, pz []parallel
	kinds := []func() error{
		func() error {
			p, err := b.backendParallel(ctx, atOnce)
			pb = append(pb, p)
			return wrapIf(err, "%d starts by the back-end alone at once", atOnce)
		},
		func() error {
			p, err := b.rawParallel(ctx, atOnce, false)
			pr = append(pr, p)
			return wrapIf(err, "%d raw runs at once", atOnce)
		},
		func() error {
			p, err := b.rawParallel(ctx, atOnce, true)
			pn = append(pn, p)
			return wrapIf(err, "%d raw runs with their own networks at once", atOnce)
		},
		func() error {
			p, err := b.zoeParallel(ctx, atOnce)
			pz = append(pz, p)
			return wrapIf(err, "%d launches at once", atOnce)
		},
	}
	for round := range bursts {
		for k := range kinds {
			if err := kinds[(k+round)%len(kinds)](); err != nil {
				return fmt.Errorf("burst round %d: %w", round+1, err)
			}
		}
	}

	report(w, host, runs, atOnce, table{
		zoeRun: load.Summarise(zoeRun), zoeUp: load.Summarise(zoeUp),
		rawRun: load.Summarise(rawRun), rawUp: load.Summarise(rawUp),
		netRun: load.Summarise(netRun), netUp: load.Summarise(netUp),
		beRun: load.Summarise(beRun), beUp: load.Summarise(beUp),
		parRaw: pr, parNet: pn, parBackend: pb, parZoe: pz, calls: calls, other: load.Summarise(other),
		networks: b.networks(), pooled: pooled,
	})
	return nil
}

// wrapIf is err with what was being done, or nil.
func wrapIf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func setup(ctx context.Context, host string, pool int, solo bool) (*bench, func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, cleanup, err
	}
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		return nil, cleanup, fmt.Errorf("image %s is not on %s (scripts/testenv.sh up imports it): %w", image, host, err)
	}
	tmp, err := os.MkdirTemp("", "zoe-bench-launch-")
	if err != nil {
		return nil, cleanup, err
	}
	undo = append(undo, func() { os.RemoveAll(tmp) })
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	dep := "bench" + hex.EncodeToString(rnd)
	b := &bench{cli: cli, dep: dep, net: "zoe-bench-raw-" + dep, pool: pool, solo: solo, launched: make(chan time.Time, 64),
		http: &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}

	if _, err := cli.NetworkCreate(ctx, b.net, network.CreateOptions{Driver: "bridge", Labels: map[string]string{"zoe.bench": dep}}); err != nil {
		return nil, cleanup, fmt.Errorf("raw runs' network: %w", err)
	}
	undo = append(undo, func() { _ = cli.NetworkRemove(context.Background(), b.net) })
	undo = append(undo, func() { b.removeRaw() })

	b.st, err = store.Open(ctx, "", tmp)
	if err != nil {
		return nil, cleanup, err
	}
	undo = append(undo, func() { b.st.Close() })
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: host, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep})
	if err != nil {
		return nil, cleanup, err
	}
	b.be = &timedBackend{Backend: be}
	b.alone, err = docker.New([]docker.HostConfig{{Name: "h1", Address: host, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep + "x"})
	if err != nil {
		return nil, cleanup, err
	}
	undo = append(undo, func() {
		cs, _ := b.alone.List(context.Background())
		for _, c := range cs {
			_ = b.alone.Remove(context.Background(), c.Host, c.ID)
		}
	})
	sch, err := scheduler.New(scheduler.Config{Backfill: true})
	if err != nil {
		return nil, cleanup, err
	}
	b.owner = store.User{Username: "bench", Role: "admin", Source: "builtin", Enabled: true}
	if err := auth.CreateUser(ctx, b.st, &b.owner, "bench-password"); err != nil {
		return nil, cleanup, err
	}
	if b.owner, err = b.st.UserByName(ctx, "bench"); err != nil {
		return nil, cleanup, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The configuration of `zoe serve` with its defaults, but a short stop
	// timeout: httpd ignores SIGTERM and every run waits for its removal.
	b.m = lifecycle.New(b.st, b.be, sch, lifecycle.Config{
		Deployment: dep, Workspaces: tmp + "/workspaces", Network: "zoe-" + dep, LogDir: tmp + "/logs",
		Resync: 10 * time.Second, StopTimeout: time.Second, Logger: quiet, NetworkPool: pool, SoloNetwork: solo,
		OnLaunch: func(time.Duration) { b.launched <- time.Now() },
	})
	b.m.Start(ctx)
	undo = append(undo, func() {
		b.m.Stop()
		cs, _ := be.List(context.Background())
		for _, c := range cs {
			_ = be.Remove(context.Background(), c.Host, c.ID)
		}
		// The pool's ready networks, and any an execution left.
		ns, _ := be.Networks(context.Background(), "h1")
		for _, n := range ns {
			_ = be.RemoveNetwork(context.Background(), "h1", n)
		}
	})

	raw := fmt.Sprintf(`{"name": "web", "version": 3, "will_end": false, "size": 1, "services": [{
		"name": "web", "image": %q, "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
		"command": %q, "environment": [], "volumes": [],
		"ports": [{"name": "web", "port_number": %d, "protocol": "tcp", "url_template": "http://{ip_port}/", "proxy": false}],
		"resources": {"memory": {"min": %d, "max": %d}, "cores": {"min": %g, "max": null}}}]}`,
		image, command, port, memMin, memMax, float64(cores)/1000)
	b.desc, err = zapp.Parse([]byte(raw), zapp.TrustShop)
	if err != nil {
		return nil, cleanup, fmt.Errorf("description: %w", err)
	}
	return b, cleanup, nil
}

// result is one launch.
type result struct {
	running, answers time.Duration
	calls            map[string]callTime // Zoe only: back-end time by call
	pooled           bool                // Zoe only: it claimed a ready network
}

// raw creates and starts the container as `docker run -d` would, on
// netName, or on a network made for it (as Zoe does) when netName is "".
func (b *bench) raw(ctx context.Context, netName string) (result, error) {
	t0 := time.Now()
	own := netName == ""
	if own {
		netName = fmt.Sprintf("zoe-bench-%s-%d", b.dep, t0.UnixNano())
		if _, err := b.cli.NetworkCreate(ctx, netName, network.CreateOptions{Driver: "bridge", Labels: map[string]string{"zoe.bench": b.dep}}); err != nil {
			return result{}, err
		}
	}
	id, err := b.rawStart(ctx, netName, "")
	if err != nil {
		return result{}, err
	}
	r := result{running: time.Since(t0)}
	defer func() {
		_ = b.cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
		if own {
			_ = b.cli.NetworkRemove(context.Background(), netName)
		}
	}()
	ins, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return result{}, err
	}
	bound := ins.NetworkSettings.Ports[nat.Port(fmt.Sprintf("%d/tcp", port))]
	if len(bound) == 0 {
		return result{}, errors.New("port not published")
	}
	if err := b.waitAnswer(ctx, bound[0].HostPort); err != nil {
		return result{}, err
	}
	r.answers = time.Since(t0)
	return r, nil
}

// rawStart is `docker run -d --memory 64m --memory-reservation 32m
// --memory-swap 64m --cpus 0.1 --network netName -p 127.0.0.1::8080`.
func (b *bench) rawStart(ctx context.Context, netName, name string) (string, error) {
	p := nat.Port(fmt.Sprintf("%d/tcp", port))
	cfg := &container.Config{
		Image:        image,
		Cmd:          strings.Fields(command),
		ExposedPorts: nat.PortSet{p: {}},
		Labels:       map[string]string{"zoe.bench": b.dep},
	}
	hc := &container.HostConfig{
		NetworkMode:  container.NetworkMode(netName),
		PortBindings: nat.PortMap{p: {{HostIP: "127.0.0.1"}}},
		Resources:    container.Resources{Memory: memMax, MemoryReservation: memMin, MemorySwap: memMax, NanoCPUs: cores * 1_000_000},
	}
	c, err := b.cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	if err != nil {
		return "", err
	}
	if err := b.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return c.ID, err
	}
	return c.ID, nil
}

// backendOnly starts, through the docker back-end alone, the container
// that Zoe's launches ask for (b.spec: Zoe's options, the owner's
// workspace, the solo network), with no store, scheduler or loop.
func (b *bench) backendOnly(ctx context.Context) (result, error) {
	t0 := time.Now()
	st, err := b.alone.Start(ctx, "h1", b.aloneSpec(t0, 0))
	if err != nil {
		return result{}, err
	}
	r := result{running: time.Since(t0)}
	defer func() { _ = b.alone.Remove(context.Background(), "h1", st.ContainerID) }()
	if len(st.Ports) != 1 {
		return result{}, fmt.Errorf("got ports %+v, want one", st.Ports)
	}
	if err := b.waitAnswer(ctx, fmt.Sprint(st.Ports[0].HostPort)); err != nil {
		return result{}, err
	}
	r.answers = time.Since(t0)
	return r, nil
}

// aloneSpec is Zoe's service spec under a container name of its own.
func (b *bench) aloneSpec(t time.Time, i int) backend.ServiceSpec {
	s := b.spec
	s.Name = fmt.Sprintf("alone%d-%d-%s", i, t.UnixNano(), b.dep)
	return s
}

// backendParallel is n starts by the back-end alone at once.
func (b *bench) backendParallel(ctx context.Context, n int) (parallel, error) {
	t0 := time.Now()
	return atOnce(n, func(i int) (string, error) {
		st, err := b.alone.Start(ctx, "h1", b.aloneSpec(t0, i))
		return st.ContainerID, err
	}, func(id string) { _ = b.alone.Remove(context.Background(), "h1", id) })
}

// atOnce runs start(0) to start(n-1) at once and times each from the
// first, then removes what they started. start returns the container's ID.
func atOnce(n int, start func(i int) (string, error), remove func(id string)) (parallel, error) {
	ds := make([]time.Duration, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = start(i)
			ds[i] = time.Since(t0)
		})
	}
	wg.Wait()
	span := time.Since(t0)
	for _, id := range ids {
		if id != "" {
			remove(id)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return parallel{}, err
	}
	return parallel{each: load.Summarise(ds), makespan: span}, nil
}

// waitAnswer polls the published port until httpd serves /passwd.
func (b *bench) waitAnswer(ctx context.Context, hostPort string) error {
	deadline := time.Now().Add(30 * time.Second)
	url := "http://127.0.0.1:" + hostPort + "/passwd"
	for time.Now().Before(deadline) {
		if err := load.Get(ctx, b.http, url, nil, http.StatusOK); err == nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not answer in 30 s", url)
}

func (b *bench) removeRaw() {
	ctx := context.Background()
	cs, err := b.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err == nil {
		for _, c := range cs {
			if c.Labels["zoe.bench"] == b.dep {
				_ = b.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}
		}
	}
	ns, err := b.cli.NetworkList(ctx, network.ListOptions{})
	if err == nil {
		for _, n := range ns {
			if n.Labels["zoe.bench"] == b.dep && n.Name != b.net {
				_ = b.cli.NetworkRemove(ctx, n.ID)
			}
		}
	}
}

// zoe submits the ZApp, waits for running and for the endpoint, then
// terminates it and waits until it is gone.
func (b *bench) zoe(ctx context.Context) (result, error) {
	b.drain()
	b.be.record()
	t0 := time.Now()
	id, err := b.m.Submit(ctx, b.owner, lifecycle.Request{Name: "bench", Description: b.desc})
	if err != nil {
		return result{}, err
	}
	var r result
	select {
	case at := <-b.launched:
		r.running = at.Sub(t0)
	case <-time.After(60 * time.Second):
		return result{}, fmt.Errorf("execution %d not running after 60 s", id)
	}
	r.calls = b.be.stop(t0.Add(r.running))
	x, err := b.st.Execution(ctx, id)
	if err != nil {
		return result{}, err
	}
	r.pooled = x.Network != ""
	ss, err := b.st.ExecutionServices(ctx, id)
	if err != nil {
		return result{}, err
	}
	if len(ss) != 1 || len(ss[0].Ports) != 1 || ss[0].Ports[0].ExternalPort == 0 {
		return result{}, fmt.Errorf("execution %d: no published port in %+v", id, ss)
	}
	if err := b.waitAnswer(ctx, fmt.Sprint(ss[0].Ports[0].ExternalPort)); err != nil {
		return result{}, err
	}
	r.answers = time.Since(t0)
	return r, b.end(ctx, id)
}

func (b *bench) drain() {
	for {
		select {
		case <-b.launched:
		default:
			return
		}
	}
}

// end terminates id and waits until it is terminated.
func (b *bench) end(ctx context.Context, ids ...int64) error {
	for _, id := range ids {
		if err := b.m.Terminate(ctx, id, "benchmark over"); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range ids {
		for {
			x, err := b.st.Execution(ctx, id)
			if err != nil {
				return err
			}
			if store.IsEnded(x.Status) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("execution %d still %s after 60 s", id, x.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// parallel is n launches at once: each one's time to running and the time
// until the last one ran.
type parallel struct {
	each     load.Summary
	makespan time.Duration
	pooled   int           // Zoe only: launches that joined a network made beforehand
	handed   time.Duration // Zoe only: when the last container create was sent to the engine
	after    load.Summary  // Zoe only: from the back-end's Start returning to the execution's recorded start
	lists    int           // Zoe only: container lists (one per pass) begun before the last was running
	listTime time.Duration // Zoe only: their time until then, added up
}

// rawParallel is n raw runs at once, on the pre-made network or each on a
// network made for it.
func (b *bench) rawParallel(ctx context.Context, n int, ownNetworks bool) (parallel, error) {
	nets := make([]string, n)
	p, err := atOnce(n, func(i int) (string, error) {
		netName := b.net
		if ownNetworks {
			netName = fmt.Sprintf("zoe-bench-%s-p%d", b.dep, i)
			if _, err := b.cli.NetworkCreate(ctx, netName, network.CreateOptions{Driver: "bridge", Labels: map[string]string{"zoe.bench": b.dep}}); err != nil {
				return "", err
			}
			nets[i] = netName
		}
		return b.rawStart(ctx, netName, "")
	}, func(id string) {
		_ = b.cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
	})
	for _, name := range nets {
		if name != "" {
			_ = b.cli.NetworkRemove(context.Background(), name)
		}
	}
	return p, err
}

// networks says how Zoe's executions get their network in this run.
func (b *bench) networks() string {
	if b.solo {
		return fmt.Sprintf("isolated solo network, pool of %d ready networks for the others", b.pool)
	}
	return fmt.Sprintf("solo network off, pool of %d ready networks", b.pool)
}

func (b *bench) zoeParallel(ctx context.Context, n int) (parallel, error) {
	b.drain()
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	b.be.record()
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = b.m.Submit(ctx, b.owner, lifecycle.Request{Name: "bench", Description: b.desc})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return parallel{}, err
	}
	ds := make([]time.Duration, 0, n)
	timeout := time.After(120 * time.Second)
	for len(ds) < n {
		select {
		case at := <-b.launched:
			ds = append(ds, at.Sub(t0))
		case <-timeout:
			return parallel{}, fmt.Errorf("%d of %d executions running after 120 s", len(ds), n)
		}
	}
	p := parallel{each: load.Summarise(ds), makespan: ds[len(ds)-1], handed: b.be.lastBegin(startCall).Sub(t0)}
	lists := b.be.within(listCall, t0.Add(p.makespan))
	p.lists, p.listTime = lists.count, lists.total
	var after []time.Duration
	for _, id := range ids {
		x, err := b.st.Execution(ctx, id)
		if err != nil {
			return parallel{}, err
		}
		if x.Network != "" {
			p.pooled++
		}
		started := b.be.ended(startCall, fmt.Sprint(id))
		if x.StartedAt == nil || started.IsZero() {
			return parallel{}, fmt.Errorf("execution %d: no start time or no recorded Start", id)
		}
		after = append(after, x.StartedAt.Sub(started))
	}
	b.be.stop(time.Now())
	p.after = load.Summarise(after)
	return p, b.end(ctx, ids...)
}

type table struct {
	zoeRun, zoeUp, rawRun, rawUp, netRun, netUp, beRun, beUp load.Summary
	parRaw, parNet, parBackend, parZoe                       []parallel // one per round
	calls                                                    map[string][]callTime
	other                                                    load.Summary
	networks                                                 string // how Zoe's executions get their network
	pooled                                                   int    // sequential launches that joined a network made beforehand
}

// overRounds is the median of the rounds' values, with the lowest and the
// highest in brackets when there are several.
func overRounds(vs []float64, format func(float64) string) string {
	vs = slices.Sorted(slices.Values(vs))
	mid := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		mid = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	if len(vs) == 1 {
		return format(mid)
	}
	return fmt.Sprintf("%s (%s–%s)", format(mid), format(vs[0]), format(vs[len(vs)-1]))
}

// perRound is f of each round.
func perRound(ps []parallel, f func(parallel) float64) []float64 {
	vs := make([]float64, len(ps))
	for i, p := range ps {
		vs[i] = f(p)
	}
	return vs
}

func msCell(ns float64) string { return load.Ms(time.Duration(ns)) }

func report(w io.Writer, host string, runs, n int, t table) {
	fmt.Fprintf(w, "### Launch overhead\n\n")
	fmt.Fprintf(w, "Engine %s, image %s, `%s`, memory %d–%d MiB, %.1f cores, port %d published on 127.0.0.1; %d sequential runs of each kind, alternating. Times in ms.\n\n",
		host, image, command, memMin>>20, memMax>>20, float64(cores)/1000, port, runs)
	fmt.Fprintf(w, "| launch | to running: median | min / p25 / p75 / max | to endpoint answers: median | min / p25 / p75 / max |\n|---|---|---|---|---|\n")
	row := func(name string, run, up load.Summary) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", name, load.Ms(run.P50), run.Spread(), load.Ms(up.P50), up.Spread())
	}
	row("raw create+start, network made beforehand (the limit)", t.rawRun, t.rawUp)
	row("raw network create + create+start (Zoe's per-execution network)", t.netRun, t.netUp)
	row("the back-end alone: Zoe's container (its options, workspace and network), create+start+inspect", t.beRun, t.beUp)
	row(fmt.Sprintf("Zoe: Submit → running (lifecycle.Manager, SQLite, %s)", t.networks), t.zoeRun, t.zoeUp)
	ratio := func(of, to load.Summary) string { return load.Ratio(float64(of.P50), float64(to.P50)) }
	fmt.Fprintf(w, "\n%d of %d sequential Zoe launches joined a network made beforehand. Ratio Zoe / limit (medians): to running %s, to endpoint %s. Against raw with its own network: %s and %s.\n\n", t.pooled, runs,
		ratio(t.zoeRun, t.rawRun), ratio(t.zoeUp, t.rawUp), ratio(t.zoeRun, t.netRun), ratio(t.zoeUp, t.netUp))
	fmt.Fprintf(w, "Split at the back-end: the engine's work for Zoe's container / the limit %s to running (%s to endpoint); Zoe / the back-end alone, what the store, the loop and the scheduler add, %s (%s).\n\n",
		ratio(t.beRun, t.rawRun), ratio(t.beUp, t.rawUp), ratio(t.zoeRun, t.beRun), ratio(t.zoeUp, t.beUp))

	rounds := len(t.parZoe)
	fmt.Fprintf(w, "%d at once, %d rounds, each kind once per round in a rotating order. Times in ms from the first request; each cell is the median over the rounds, with the rounds' lowest and highest in brackets.\n\n", n, rounds)
	fmt.Fprintf(w, "| %d at once | median launch to running | last one running |\n|---|---|---|\n", n)
	median := func(p parallel) float64 { return float64(p.each.P50) }
	last := func(p parallel) float64 { return float64(p.makespan) }
	burstRow := func(name string, ps []parallel) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", name, overRounds(perRound(ps, median), msCell), overRounds(perRound(ps, last), msCell))
	}
	burstRow("raw create+start, one network made beforehand (the limit)", t.parRaw)
	burstRow("raw network create + create+start", t.parNet)
	burstRow("the back-end alone: Zoe's container, create+start+inspect", t.parBackend)
	pooledBurst := 0
	for _, p := range t.parZoe {
		pooledBurst += p.pooled
	}
	burstRow(fmt.Sprintf("Zoe (%d of %d joined a network made beforehand)", pooledBurst, n*rounds), t.parZoe)
	// Ratios are taken round by round, each Zoe burst against the raw
	// bursts of its own round.
	ratios := func(of, to []parallel, f func(parallel) float64) string {
		rs := make([]float64, len(of))
		for i := range of {
			rs[i] = f(of[i]) / f(to[i])
		}
		return overRounds(rs, func(v float64) string { return fmt.Sprintf("%.2f×", v) })
	}
	fmt.Fprintf(w, "\nRatio Zoe / limit, %d at once, round by round: median launch %s, last one %s. Against raw runs with their own networks: %s and %s.\n\n", n,
		ratios(t.parZoe, t.parRaw, median), ratios(t.parZoe, t.parRaw, last), ratios(t.parZoe, t.parNet, median), ratios(t.parZoe, t.parNet, last))
	fmt.Fprintf(w, "Split at the back-end, round by round: the back-end alone / limit, median %s, last %s; Zoe / the back-end alone, median %s, last %s.\n\n",
		ratios(t.parBackend, t.parRaw, median), ratios(t.parBackend, t.parRaw, last), ratios(t.parZoe, t.parBackend, median), ratios(t.parZoe, t.parBackend, last))
	fmt.Fprintf(w, "Zoe's own part of a burst: the last of the %d container creates went to the engine %s ms after the first request (median over the rounds); the rest is the engine's.\n\n", n,
		overRounds(perRound(t.parZoe, func(p parallel) float64 { return float64(p.handed) }), msCell))
	fmt.Fprintf(w, "After the engine: from the back-end's Start returning (create, start, inspect done) to the start time recorded with the execution's move to running (the store's record of the service and its event come between), median %s ms, slowest of a burst %s ms (median over the rounds).\n\n",
		overRounds(perRound(t.parZoe, func(p parallel) float64 { return float64(p.after.P50) }), msCell),
		overRounds(perRound(t.parZoe, func(p parallel) float64 { return float64(p.after.Max) }), msCell))
	fmt.Fprintf(w, "The loop's passes during a burst, each listing the engine's containers first: %s lists begun before the last launch was running, taking %s ms until then, added up (a list still waiting counts until then).\n\n",
		overRounds(perRound(t.parZoe, func(p parallel) float64 { return float64(p.lists) }), func(v float64) string { return fmt.Sprintf("%.0f", v) }),
		overRounds(perRound(t.parZoe, func(p parallel) float64 { return float64(p.listTime) }), msCell))

	fmt.Fprintf(w, "Where a sequential Zoe launch spends its time: back-end calls that ended between submission and running, median over the runs. List runs in the loop's passes, partly alongside the others; \"everything else\" is the time to running minus the other calls.\n\n| call | median ms per launch | calls per launch (median) | launches with the call |\n|---|---|---|---|\n")
	names := make([]string, 0, len(t.calls))
	for name := range t.calls {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, c string) int { return cmp.Compare(a, c) })
	for _, name := range names {
		cs := t.calls[name]
		var ds []time.Duration
		var ns []int
		for _, c := range cs {
			ds, ns = append(ds, c.total), append(ns, c.count)
		}
		slices.Sort(ns)
		fmt.Fprintf(w, "| %s | %s | %d | %d of %d |\n", name, load.Ms(load.Summarise(ds).P50), ns[len(ns)/2], len(cs), runs)
	}
	fmt.Fprintf(w, "| everything else (store writes, passes, scheduling, hand-offs) | %s | | |\n\n", load.Ms(t.other.P50))
}
