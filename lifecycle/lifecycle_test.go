package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// env is a lifecycle on real parts: a SQLite store, private Docker
// engines from the test command and the real scheduler.
type env struct {
	t     *testing.T
	st    *store.Store
	be    *docker.Backend
	m     *Manager
	owner store.User
	dep   string
}

func engine(t *testing.T, name, variable string) docker.HostConfig {
	t.Helper()
	addr := os.Getenv(variable)
	if addr == "" {
		t.Fatalf("%s not set: run `make test` (or scripts/testenv.sh up and source .testenv/env)", variable)
	}
	return docker.HostConfig{Name: name, Address: addr, ExternalAddress: "127.0.0.1"}
}

func newEnv(t *testing.T, hosts ...docker.HostConfig) *env {
	t.Helper()
	return newEnvConfig(t, nil, hosts...)
}

// newEnvConfig is newEnv with configure changing the manager's
// configuration before it starts.
func newEnvConfig(t *testing.T, configure func(*Config), hosts ...docker.HostConfig) *env {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []docker.HostConfig{engine(t, "h1", "ZOE_TEST_DOCKER_HOST")}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "lt" + hex.EncodeToString(b)
	be, err := docker.New(hosts, docker.Options{Deployment: dep})
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	owner := store.User{Username: "alice", Role: "user", Source: "builtin", Enabled: true}
	if err := auth.CreateUser(ctx, st, &owner, "secret-password"); err != nil {
		t.Fatal(err)
	}
	owner, err = st.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, be: be, owner: owner, dep: dep}
	cfg := Config{Deployment: dep, Workspaces: t.TempDir(), Resync: 500 * time.Millisecond, Network: "zoe-shared-" + dep, LogDir: t.TempDir(), StopTimeout: 2 * time.Second}
	if configure != nil {
		configure(&cfg)
	}
	e.m = New(st, be, sch, cfg)
	e.m.Start(ctx)
	t.Cleanup(func() {
		e.m.Stop()
		cs, _ := be.List(context.Background())
		for _, c := range cs {
			_ = be.Remove(context.Background(), c.Host, c.ID)
		}
		for _, h := range hosts {
			ns, _ := be.Networks(context.Background(), h.Name)
			for _, n := range ns {
				_ = be.RemoveNetwork(context.Background(), h.Name, n)
			}
		}
		_ = st.Close()
	})
	return e
}

// restart replaces the manager by a new one on the same store and engines,
// as a new process would.
func (e *env) restart() {
	e.m.Stop()
	sch, _ := scheduler.New(scheduler.Config{Backfill: true})
	e.m = New(e.st, e.be, sch, e.m.cfg)
	e.m.Start(context.Background())
}

type svc struct {
	name        string
	cmd         string
	image       string
	essential   int
	total       int
	memory      string
	memMax      string
	ports       string
	env         string
	order       int
	monitor     bool
	labels      string
	coresMin    string
	extraFields string
}

func description(name string, svcs ...svc) *zapp.Description {
	var parts []string
	for i, s := range svcs {
		if s.image == "" {
			s.image = "zoe/busybox:test"
		}
		if s.essential == 0 {
			s.essential = 1
		}
		if s.total == 0 {
			s.total = s.essential
		}
		if s.memory == "" {
			s.memory = `"32MiB"`
		}
		if s.memMax == "" {
			s.memMax = "null"
		}
		if s.ports == "" {
			s.ports = "[]"
		}
		if s.env == "" {
			s.env = "[]"
		}
		if s.coresMin == "" {
			s.coresMin = "0.1"
		}
		cmd := "null"
		if s.cmd != "" {
			cmd = fmt.Sprintf("%q", s.cmd)
		}
		labels := ""
		if s.labels != "" {
			labels = `, "labels": ` + s.labels
		}
		parts = append(parts, fmt.Sprintf(`{"name": %q, "image": %q, "monitor": %v, "essential_count": %d, "total_count": %d,
			"startup_order": %d, "command": %s, "environment": %s, "ports": %s, "volumes": [],
			"resources": {"memory": {"min": %s, "max": %s}, "cores": {"min": %s, "max": null}}%s%s}`,
			s.name, s.image, s.monitor || i == 0, s.essential, s.total, s.order, cmd, s.env, s.ports, s.memory, s.memMax, s.coresMin, labels, s.extraFields))
	}
	raw := fmt.Sprintf(`{"name": %q, "version": 3, "will_end": false, "size": 1, "services": [%s]}`, name, strings.Join(parts, ","))
	d, err := zapp.Parse([]byte(raw), zapp.TrustShop)
	if err != nil {
		panic(fmt.Sprintf("test description: %v\n%s", err, raw))
	}
	return d
}

func (e *env) submit(d *zapp.Description) int64 {
	e.t.Helper()
	id, err := e.m.Submit(context.Background(), e.owner, Request{Name: d.Name, Description: d})
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	return id
}

// waitStatus waits until execution id has status want, failing with its
// history otherwise.
func (e *env) waitStatus(id int64, want string) store.Execution {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		x, err := e.st.Execution(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if x.Status == want {
			return x
		}
		if time.Now().After(deadline) {
			evs, _ := e.st.Events(context.Background(), id)
			e.t.Fatalf("execution %d: got status %q (%s), want %q; history: %+v", id, x.Status, x.ErrorMessage, want, evs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) containers() []backend.Container {
	e.t.Helper()
	cs, err := e.be.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func (e *env) services(id int64) []store.Service {
	e.t.Helper()
	ss, err := e.st.ExecutionServices(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ss
}

func TestStartAndTerminate(t *testing.T) {
	e := newEnv(t)
	d := description("web", svc{name: "web", cmd: "sh -c 'env; exec httpd -f -p 8080 -h /etc'", ports: `[{"name": "web page", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}]`,
		env: `[["GREETING", "hello {user_name} from {dns_name#self}"], ["MEM_LIMIT", "forged"]]`, memory: `"32MiB"`, memMax: `"64MiB"`})
	id := e.submit(d)
	e.waitStatus(id, store.StatusRunning)

	ss := e.services(id)
	if len(ss) != 1 || ss[0].Status != store.ServiceActive || ss[0].Host != "h1" || ss[0].BackendID == "" {
		t.Fatalf("got services %+v, want web0 active on h1", ss)
	}
	if p := ss[0].Ports[0]; p.ExternalPort == 0 || p.ExternalIP != "127.0.0.1" {
		t.Errorf("got port %+v, want a published port on 127.0.0.1", p)
	}
	c, err := e.be.Inspect(context.Background(), "h1", ss[0].BackendID)
	if err != nil {
		t.Fatal(err)
	}
	wantName := zapp.DNSName("web0", id, e.dep)
	if strings.TrimPrefix(c.Name, "/") != wantName {
		t.Errorf("got container name %q, want %q", c.Name, wantName)
	}
	for k, want := range map[string]string{LabelExecution: fmt.Sprint(id), LabelService: "web0", LabelOwner: "alice", LabelDeployment: e.dep} {
		if c.Labels[k] != want {
			t.Errorf("label %s: got %q, want %q", k, c.Labels[k], want)
		}
	}
	// The environment is checked from inside the container.
	out := e.exec(ss[0], "env")
	for _, want := range []string{"GREETING=hello alice from " + wantName, "MEM_LIMIT=67108864", "CPU_LIMIT=0.1", "ZOE_USER=alice",
		fmt.Sprintf("EXECUTION_ID=%d", id), "ZOE_WORKSPACE=/mnt/workspace", fmt.Sprintf("ZOE_PROXY_PATH=/proxy/%d/web0/8080/", id)} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("environment lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MEM_LIMIT=forged") {
		t.Errorf("a description overrode Zoe's MEM_LIMIT:\n%s", out)
	}

	if err := e.m.Terminate(context.Background(), id, "test over"); err != nil {
		t.Fatal(err)
	}
	x := e.waitStatus(id, store.StatusTerminated)
	if x.ErrorMessage != "test over" || x.EndedAt == nil {
		t.Errorf("got message %q ended %v, want the reason and an end time", x.ErrorMessage, x.EndedAt)
	}
	if cs := e.containers(); len(cs) != 0 {
		t.Errorf("got %d containers after termination, want none", len(cs))
	}
	if err := e.m.Terminate(context.Background(), id, "again"); err != ErrNotActive {
		t.Errorf("terminating an ended execution: got %v, want ErrNotActive", err)
	}
}

// exec returns what the service's command printed: the tests that read a
// container's environment start a service whose command prints it.
func (e *env) exec(s store.Service, _ string) string {
	e.t.Helper()
	rc, err := e.be.Logs(context.Background(), s.Host, s.BackendID, 100, false, false)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

func TestEndings(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		svc    svc
		status string
		msg    string
	}{
		{"batch finishes", svc{name: "job", cmd: "sh -c 'echo working; sleep 1'"}, store.StatusTerminated, "service job0 finished"},
		{"failure", svc{name: "job", cmd: "sh -c 'exit 3'"}, store.StatusError, "service job0 exited with code 3"},
		// dd fills a 64 MiB buffer with one read: the limit is hit at once,
		// without the CPU a shell building a 64 MB string needs (over a
		// minute on a loaded machine). The shell outlives dd because the
		// engine hears of an out-of-memory kill and of the exit separately:
		// a main process killed at once can be reported as a plain exit
		// 137 before the kill is seen. A notebook's kernel dies the same
		// way under its server.
		{"out of memory", svc{name: "hog", memory: `"16MiB"`, cmd: "sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 2'"}, store.StatusError, "service hog0 killed: out of memory (limit 16 MiB)"},
		{"bad command", svc{name: "job", cmd: "/no/such/binary"}, store.StatusError, "service job0:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := e.submit(description("end", tt.svc))
			x := e.waitStatus(id, tt.status)
			if !strings.HasPrefix(x.ErrorMessage, tt.msg) {
				t.Errorf("got message %q, want it to start with %q", x.ErrorMessage, tt.msg)
			}
			if tt.name == "batch finishes" {
				// The container is gone; its output was kept.
				deadline := time.Now().Add(10 * time.Second)
				for {
					rc, err := e.m.ServiceLog(context.Background(), x, "job0", 10, false)
					if err == nil {
						b, _ := io.ReadAll(rc)
						rc.Close()
						if strings.Contains(string(b), "working") {
							break
						}
					}
					if time.Now().After(deadline) {
						t.Fatalf("kept log of job0: got error %v, want the line \"working\"", err)
					}
					time.Sleep(100 * time.Millisecond)
				}
				ss := e.services(id)
				if ss[0].ExitCode == nil || *ss[0].ExitCode != 0 {
					t.Errorf("got exit code %v, want 0 recorded", ss[0].ExitCode)
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.containers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if cs := e.containers(); len(cs) != 0 {
		t.Errorf("got %d containers left, want none", len(cs))
	}
}

func TestMissingImageWaitsWithReason(t *testing.T) {
	e := newEnv(t)
	id := e.submit(description("noimg", svc{name: "nbk", image: "zoe/nothing-here:1.0", cmd: "sleep 60"}))
	e.waitStatus(id, store.StatusQueued)
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, ok := e.m.Wait(id)
		if ok && strings.Contains(w.Reason+fmt.Sprint(w.Hosts), "zoe/nothing-here:1.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got wait %+v (found %v), want a reason naming the missing image", w, ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := e.m.Terminate(context.Background(), id, "give up"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, store.StatusTerminated)
}

func TestElasticInstancesAreReplaced(t *testing.T) {
	e := newEnv(t)
	d := description("cluster",
		svc{name: "master", cmd: "sleep 600", order: 0},
		svc{name: "worker", cmd: "sh -c 'ping -c 1 master0 >/dev/null 2>&1; sleep 600'", essential: 1, total: 3, order: 1})
	id := e.submit(d)
	e.waitStatus(id, store.StatusRunning)
	active := func() []store.Service {
		var out []store.Service
		for _, s := range e.services(id) {
			if s.Status == store.ServiceActive {
				out = append(out, s)
			}
		}
		return out
	}
	waitActive := func(n int) []store.Service {
		deadline := time.Now().Add(30 * time.Second)
		for {
			a := active()
			if len(a) == n {
				return a
			}
			if time.Now().After(deadline) {
				t.Fatalf("got %d active services, want %d", len(a), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	a := waitActive(4)
	var victim store.Service
	for _, s := range a {
		if !s.Essential {
			victim = s
		}
	}
	// Kill an elastic instance behind Zoe's back: it must be replaced and
	// the execution must keep running.
	if err := e.be.Remove(context.Background(), victim.Host, victim.BackendID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var again store.Service
		for _, s := range e.services(id) {
			if s.Name == victim.Name {
				again = s
			}
		}
		if again.Status == store.ServiceActive && again.BackendID != victim.BackendID && again.RestartCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("elastic %s: got %+v, want it active again with a new container and restart count 1", victim.Name, again)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if x, _ := e.st.Execution(context.Background(), id); x.Status != store.StatusRunning {
		t.Errorf("got execution status %q, want running", x.Status)
	}
	// An essential instance dying ends the execution.
	var master store.Service
	for _, s := range e.services(id) {
		if s.Name == "master0" {
			master = s
		}
	}
	if err := e.be.Remove(context.Background(), master.Host, master.BackendID); err != nil {
		t.Fatal(err)
	}
	x := e.waitStatus(id, store.StatusError)
	if !strings.Contains(x.ErrorMessage, "master0") {
		t.Errorf("got message %q, want it to name master0", x.ErrorMessage)
	}
}

func TestRestartReconciles(t *testing.T) {
	e := newEnv(t)
	id := e.submit(description("long", svc{name: "app", cmd: "sleep 600"}))
	e.waitStatus(id, store.StatusRunning)
	before := e.services(id)[0]

	// An orphan of this deployment that no service knows must go. It is
	// made while no loop runs, which would remove it between its create
	// and its start.
	e.m.Stop()
	orphan, err := e.be.Start(context.Background(), "h1", backend.ServiceSpec{Name: "orphan-" + e.dep, Image: "zoe/busybox:test", Command: []string{"sleep", "600"},
		Network: "zoe-" + e.dep + "-" + fmt.Sprint(id), Labels: map[string]string{LabelExecution: "999999"}})
	if err != nil {
		t.Fatal(err)
	}
	e.restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		gone := true
		for _, c := range e.containers() {
			if c.ID == orphan.ContainerID {
				gone = false
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the orphan container is still there after a restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := e.services(id)[0]
	if after.BackendID != before.BackendID || after.Status != store.ServiceActive {
		t.Errorf("got service %+v after restart, want the same container still active", after)
	}
	if x, _ := e.st.Execution(context.Background(), id); x.Status != store.StatusRunning {
		t.Errorf("got status %q after restart, want running", x.Status)
	}
}

func TestQuotaRefusesAtSubmission(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q, err := e.st.QuotaForUser(ctx, e.owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	q.ConcurrentExecutions = 1
	if err := e.st.UpdateQuota(ctx, q); err != nil {
		t.Fatal(err)
	}
	e.submit(description("one", svc{name: "app", cmd: "sleep 600"}))
	_, err = e.m.Submit(ctx, e.owner, Request{Name: "two", Description: description("two", svc{name: "app", cmd: "sleep 600"})})
	var qe *auth.QuotaError
	if err == nil || !errorsAs(err, &qe) {
		t.Fatalf("got %v, want a quota error", err)
	}
}

func TestTwoHostsSpread(t *testing.T) {
	e := newEnv(t, engine(t, "h1", "ZOE_TEST_DOCKER_HOST"), engine(t, "h2", "ZOE_TEST_DOCKER_HOST2"))
	var ids []int64
	for i := 0; i < 4; i++ {
		ids = append(ids, e.submit(description(fmt.Sprintf("spread%d", i), svc{name: "app", cmd: "sleep 600", memory: `"1GiB"`})))
	}
	hosts := map[string]int{}
	for _, id := range ids {
		e.waitStatus(id, store.StatusRunning)
		hosts[e.services(id)[0].Host]++
	}
	if hosts["h1"] != 2 || hosts["h2"] != 2 {
		t.Errorf("got placement %v, want 2 executions on each host (average placement)", hosts)
	}
	names := []string{}
	for _, c := range e.containers() {
		names = append(names, c.Host)
	}
	slices.Sort(names)
	if len(names) != 4 {
		t.Errorf("got containers on %v, want 4", names)
	}
}

func TestPlacementByLabels(t *testing.T) {
	h1 := engine(t, "h1", "ZOE_TEST_DOCKER_HOST")
	h2 := engine(t, "h2", "ZOE_TEST_DOCKER_HOST2")
	h2.Labels = []string{"gpu"}
	e := newEnv(t, h1, h2)
	id := e.submit(description("gpujob", svc{name: "train", cmd: "sleep 600", labels: `["gpu"]`}))
	e.waitStatus(id, store.StatusRunning)
	if h := e.services(id)[0].Host; h != "h2" {
		t.Errorf("got host %q, want h2, the only one labelled gpu", h)
	}
	id2 := e.submit(description("ssdjob", svc{name: "train", cmd: "sleep 600", labels: `["ssd"]`}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, ok := e.m.Wait(id2)
		if ok && strings.Contains(fmt.Sprint(w.Reason, w.Hosts), "ssd") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got wait %+v (%v), want a reason naming the missing label ssd", w, ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestTerminateWhileStarting(t *testing.T) {
	e := newEnv(t)
	d := description("slow",
		svc{name: "first", cmd: "sleep 600", order: 0},
		svc{name: "second", cmd: "sleep 600", order: 1},
		svc{name: "third", cmd: "sleep 600", order: 2})
	id := e.submit(d)
	// Ask for termination as soon as the execution is starting.
	deadline := time.Now().Add(30 * time.Second)
	for {
		x, _ := e.st.Execution(context.Background(), id)
		if x.Status == store.StatusStarting || x.Status == store.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the execution never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.m.Terminate(context.Background(), id, "changed my mind"); err != nil {
		t.Fatalf("terminate while starting: %v", err)
	}
	x := e.waitStatus(id, store.StatusTerminated)
	if x.ErrorMessage != "changed my mind" {
		t.Errorf("got message %q, want the reason", x.ErrorMessage)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(e.containers()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(e.containers()); n != 0 {
		t.Errorf("got %d containers after terminating while starting, want none", n)
	}
}
