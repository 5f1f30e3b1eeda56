package lifecycle

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// crashChildVar, when set in the environment, makes the test binary a
// Zoe process under test instead of running tests: it holds the child's
// configuration as JSON.
const crashChildVar = "ZOE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(crashChildVar); cfg != "" {
		os.Exit(crashChild(cfg))
	}
	os.Exit(m.Run())
}

// crashConfig is what a child needs to run the same Zoe as its parent.
type crashConfig struct {
	DB, DataDir, Docker, Deployment, Workspaces, LogDir string
	Seed                                                uint64
}

func (c crashConfig) manager(st *store.Store, be *docker.Backend, log *slog.Logger) *Manager {
	sch, err := scheduler.New(scheduler.Config{Backfill: true})
	if err != nil {
		panic(err)
	}
	// With a pool of ready networks, so that kills also land between a
	// claim and its record, and during the pool's top-ups.
	return New(st, be, sch, Config{Deployment: c.Deployment, Workspaces: c.Workspaces, LogDir: c.LogDir,
		Resync: 500 * time.Millisecond, StopTimeout: time.Second, Logger: log, NetworkPool: 2})
}

func (c crashConfig) backend() (*docker.Backend, error) {
	return docker.New([]docker.HostConfig{{Name: "h1", Address: c.Docker, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: c.Deployment})
}

// crashZApps are the ZApps the child starts: one service, a cluster with
// elastic workers, and services started in order.
func crashZApps() []*zapp.Description {
	return []*zapp.Description{
		description("single", svc{name: "app", cmd: "sleep 600"}),
		description("cluster",
			svc{name: "master", cmd: "sleep 600"},
			svc{name: "worker", cmd: "sleep 600", essential: 1, total: 3, order: 1}),
		description("ordered",
			svc{name: "store", cmd: "sleep 600"},
			svc{name: "web", cmd: "sleep 600", essential: 1, total: 2, order: 1}),
	}
}

// crashChild runs Zoe and fires submissions and terminations at it until
// it is killed, printing "submitted ID" once a submission is recorded and
// "terminated ID" once a termination is accepted.
func crashChild(raw string) int {
	var c crashConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()
	st, err := store.Open(ctx, c.DB, c.DataDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	be, err := c.backend()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	m := c.manager(st, be, log)
	m.Start(ctx)
	owner, err := st.UserByName(ctx, "alice")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	// What the previous process left running is fair game for
	// terminations too.
	var live []int64
	active, err := st.ActiveExecutions(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	for _, e := range active {
		live = append(live, e.ID)
	}
	r := mrand.New(mrand.NewPCG(c.Seed, 2))
	zapps := crashZApps()
	for {
		if len(live) > 0 && (len(live) >= 6 || r.IntN(3) == 0) {
			i := r.IntN(len(live))
			id := live[i]
			live = slices.Delete(live, i, i+1)
			if err := m.Terminate(ctx, id, "burst"); err == nil {
				fmt.Printf("terminated %d\n", id)
			} else {
				log.Warn("crash child: terminate", "execution", id, "err", err)
			}
		} else {
			d := zapps[r.IntN(len(zapps))]
			id, err := m.Submit(ctx, owner, Request{Name: d.Name, Description: d})
			if err != nil {
				log.Error("crash child: submit", "err", err)
				continue
			}
			fmt.Printf("submitted %d\n", id)
			live = append(live, id)
		}
		time.Sleep(time.Duration(20+r.IntN(180)) * time.Millisecond)
	}
}

// postgresDatabase creates an empty database for one test on the server
// the test command started and drops it afterwards.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ZOE_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("ZOE_TEST_POSTGRES_URL not set: run `make test`")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "zoe_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// crashLog is what the children reported, in order.
type crashLog struct {
	mu         sync.Mutex
	submitted  []int64
	terminated []int64
}

func (l *crashLog) read(sc *bufio.Scanner) {
	for sc.Scan() {
		verb, id, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			continue
		}
		l.mu.Lock()
		switch verb {
		case "submitted":
			l.submitted = append(l.submitted, n)
		case "terminated":
			l.terminated = append(l.terminated, n)
		}
		l.mu.Unlock()
	}
}

// TestCrashConvergence kills Zoe (SIGKILL) at random moments of bursts of
// submissions and terminations, several times over, then restarts it and
// checks that it converges: every execution in a correct state, no
// container leaked or unmanaged, no record lost. ZOE_CRASH_SEED replays a
// run.
func TestCrashConvergence(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ZOE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("ZOE_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (ZOE_CRASH_SEED=%d replays this run)", seed, seed)
	for i, kind := range []string{store.KindSQLite, store.KindPostgres} {
		t.Run(kind, func(t *testing.T) {
			var c crashConfig
			if kind == store.KindPostgres {
				c.DB = postgresDatabase(t)
			} else {
				c.DataDir = t.TempDir()
			}
			crashRounds(t, c, seed+uint64(i)*1000)
		})
	}
}

func crashRounds(t *testing.T, c crashConfig, seed uint64) {
	const rounds = 4
	ctx := context.Background()
	c.Docker = engine(t, "h1", "ZOE_TEST_DOCKER_HOST").Address
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	c.Deployment = "cr" + hex.EncodeToString(b)
	c.Workspaces, c.LogDir = t.TempDir(), t.TempDir()

	st, err := store.Open(ctx, c.DB, c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	owner := store.User{Username: "alice", Role: "user", Source: "builtin", Enabled: true}
	if err := auth.CreateUser(ctx, st, &owner, "secret-password"); err != nil {
		t.Fatal(err)
	}
	be, err := c.backend()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeDeployment(be, "h1") })

	r := mrand.New(mrand.NewPCG(seed, 1))
	var reported crashLog
	stderr := filepath.Join(t.TempDir(), "children.log")
	for round := range rounds {
		c.Seed = seed + uint64(round)
		// From just after start-up (recovery under way) to well into a
		// burst.
		after := time.Duration(500+r.IntN(2500)) * time.Millisecond
		runChild(t, c, after, stderr, &reported)
		t.Logf("round %d: killed after %v; %d submitted, %d terminated so far", round, after, len(reported.submitted), len(reported.terminated))
	}
	if len(reported.submitted) == 0 {
		t.Fatalf("no child reported a submission; their logs:\n%s", tailFile(stderr))
	}

	log := slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := c.manager(st, be, log)
	m.Start(ctx)
	defer m.Stop()
	checkConverged(t, st, be, m, &reported, stderr)

	// Everything that is still active ends cleanly, leaving nothing
	// behind, networks included.
	active, err := st.ActiveExecutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range active {
		if err := m.Terminate(ctx, e.ID, "test over"); err != nil {
			t.Errorf("terminate %d: %v", e.ID, err)
		}
	}
	waitFor(t, 30*time.Second, "every execution ended, no container and no network left but the ready ones", func() []string {
		var problems []string
		if a, err := st.ActiveExecutions(ctx); err != nil || len(a) > 0 {
			problems = append(problems, fmt.Sprintf("%d executions still active (%v)", len(a), err))
		}
		cs, err := be.List(ctx)
		if err != nil || len(cs) > 0 {
			problems = append(problems, fmt.Sprintf("%d containers left (%v)", len(cs), err))
		}
		ns, err := be.Networks(ctx, "h1")
		ready := m.pool.known()
		ns = slices.DeleteFunc(ns, func(n string) bool { return ready[n] })
		if err != nil || len(ns) > 0 || len(ready) > 2 {
			problems = append(problems, fmt.Sprintf("networks left: %v besides %d ready (%v)", ns, len(ready), err))
		}
		for _, n := range ns {
			if id, err := strconv.ParseInt(n[strings.LastIndex(n, "-")+1:], 10, 64); err == nil {
				problems = append(problems, history(st, id))
			}
		}
		if recorded, err := st.RecordedNetworks(ctx, slices.Collect(maps.Keys(ready))); err != nil || len(recorded) > 0 {
			problems = append(problems, fmt.Sprintf("ready networks an execution had: %v (%v)", recorded, err))
		}
		return problems
	})
}

// runChild starts a Zoe child, lets it work for after and kills it.
func runChild(t *testing.T, c crashConfig, after time.Duration, stderr string, reported *crashLog) {
	t.Helper()
	raw, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildVar+"="+string(raw))
	errf, err := os.OpenFile(stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stderr = errf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		reported.read(bufio.NewScanner(out))
	}()
	time.Sleep(after)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	<-done
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended by itself before the kill (%v); its log:\n%s", err, tailFile(stderr))
	}
}

// checkConverged waits until the store and the engine agree and every
// execution is in a state it may stay in.
func checkConverged(t *testing.T, st *store.Store, be *docker.Backend, m *Manager, reported *crashLog, stderr string) {
	t.Helper()
	ctx := context.Background()
	reported.mu.Lock()
	submitted, terminated := slices.Clone(reported.submitted), slices.Clone(reported.terminated)
	reported.mu.Unlock()
	waitFor(t, 60*time.Second, "convergence after the crashes", func() []string {
		var problems []string
		all, _, err := st.ListExecutions(ctx, store.ExecutionFilter{})
		if err != nil {
			return []string{err.Error()}
		}
		byID := map[int64]store.Execution{}
		for _, e := range all {
			byID[e.ID] = e
		}
		for _, id := range submitted {
			if _, ok := byID[id]; !ok {
				problems = append(problems, fmt.Sprintf("execution %d was reported submitted but is not in the store", id))
			}
		}
		for _, id := range terminated {
			if e := byID[id]; e.Status != store.StatusTerminated {
				problems = append(problems, fmt.Sprintf("execution %d: termination was accepted, got status %q (%s)", id, e.Status, e.ErrorMessage))
			}
		}
		cs, err := be.List(ctx)
		if err != nil {
			return append(problems, err.Error())
		}
		// Which container each active service of a running execution
		// holds; any other container of the deployment is leaked.
		owned := map[string]string{}
		for _, e := range all {
			services, err := st.ExecutionServices(ctx, e.ID)
			if err != nil {
				return append(problems, err.Error())
			}
			switch e.Status {
			case store.StatusRunning:
				for _, s := range services {
					if s.Status != store.ServiceActive || s.BackendID == "" {
						problems = append(problems, fmt.Sprintf("execution %d running: service %s is %q (%s)", e.ID, s.Name, s.Status, s.ErrorMessage))
						continue
					}
					owned[s.BackendID] = fmt.Sprintf("%d/%s", e.ID, s.Name)
				}
			case store.StatusQueued:
				if w, ok := m.Wait(e.ID); !ok || w.Reason == "" {
					problems = append(problems, fmt.Sprintf("execution %d queued with no reason", e.ID))
				}
			case store.StatusTerminated:
				for _, s := range services {
					if s.BackendID != "" || s.Status == store.ServiceActive || s.Status == store.ServiceStarting {
						problems = append(problems, fmt.Sprintf("execution %d terminated: service %s still %q with container %q", e.ID, s.Name, s.Status, s.BackendID))
					}
				}
			case store.StatusError:
				// Nothing in this test can fail: sleep 600 on an image
				// every host has.
				problems = append(problems, fmt.Sprintf("execution %d ended in error: %s", e.ID, e.ErrorMessage))
			default:
				problems = append(problems, fmt.Sprintf("execution %d still %q", e.ID, e.Status))
			}
		}
		seen := map[string]bool{}
		for _, c := range cs {
			seen[c.ID] = true
			who, ok := owned[c.ID]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("container %s (%s) belongs to no active service", c.Name, c.State))
			case c.State != "running":
				problems = append(problems, fmt.Sprintf("container %s of %s is %s", c.Name, who, c.State))
			}
		}
		for id, who := range owned {
			if !seen[id] {
				problems = append(problems, fmt.Sprintf("service %s is active but its container %.12s does not exist", who, id))
			}
		}
		return problems
	})
	if t.Failed() {
		t.Logf("children's log:\n%s", tailFile(stderr))
	}
}

// waitFor polls check until it reports no problem, failing with the last
// problems after d.
func waitFor(t *testing.T, d time.Duration, what string, check func() []string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		problems := check()
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: not reached within %v:\n  %s", what, d, strings.Join(problems, "\n  "))
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// history describes execution id for a failure message.
func history(st *store.Store, id int64) string {
	ctx := context.Background()
	var b strings.Builder
	fmt.Fprintf(&b, "execution %d:", id)
	evs, _ := st.Events(ctx, id)
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n    %s %s %s", ev.At.Format("15:04:05.000"), ev.Kind, ev.Message)
	}
	ss, _ := st.ExecutionServices(ctx, id)
	for _, s := range ss {
		fmt.Fprintf(&b, "\n    service %s: %s on %q container %.12s (%s)", s.Name, s.Status, s.Host, s.BackendID, s.ErrorMessage)
	}
	return b.String()
}

// removeDeployment removes what a test's deployment left on host.
// Networks go by ID: two of the same name cannot be removed by name.
func removeDeployment(be *docker.Backend, host string) {
	ctx := context.Background()
	cs, _ := be.List(ctx)
	for _, c := range cs {
		_ = be.Remove(ctx, c.Host, c.ID)
	}
	addr := ""
	for _, h := range be.Hosts() {
		if h.Name == host {
			addr = h.Address
		}
	}
	out, _ := exec.Command("docker", "-H", addr, "network", "ls", "-q", "--filter", "label=zoe.deployment="+be.Deployment()).Output()
	for _, id := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "-H", addr, "network", "rm", id).Run()
	}
}

func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const n = 6000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// testWriter sends a logger's lines to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
