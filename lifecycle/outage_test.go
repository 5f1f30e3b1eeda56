package lifecycle

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/store"
)

// dockerd is a private Docker engine owned by one test: the shared test
// engines must stay up for everyone else.
type dockerd struct {
	dir, addr string
	cmd       *exec.Cmd
	log       *os.File
}

func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Fatalf("dockerd not found: run `make test` (scripts/testenv.sh installs it): %v", err)
	}
	// Short paths: containerd's socket lives under the exec root and unix
	// socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "zoe-eng")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{dir: dir, addr: "unix://" + filepath.Join(dir, "d.sock")}
	t.Cleanup(func() {
		d.stop(t)
		// With --live-restore the engine leaves its data root mounted
		// on itself when it stops.
		unmountUnder(t, dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove engine directory: %v", err)
		}
	})
	d.start(t)
	return d
}

func (d *dockerd) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d.log = f
	// --live-restore keeps containers running while the engine is down,
	// as a production engine would be configured: an engine restart is
	// then an outage of the control plane only.
	d.cmd = exec.Command("dockerd",
		"--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "d.pid"), "--host", d.addr,
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--default-address-pool", "base=10.205.0.0/16,size=24", "--live-restore")
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for exec.Command("docker", "-H", d.addr, "version").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not start within 60 s:\n%s", tailFile(f.Name()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Logf("read mounts: %v", err)
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			t.Logf("unmount %s: %v", p, err)
		}
	}
}

// stop shuts the engine down as an administrator would (SIGTERM).
func (d *dockerd) stop(t *testing.T) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
		t.Errorf("dockerd did not stop within 30 s; killed it")
	}
	d.cmd = nil
	d.log.Close()
}

// copyImage moves ref between engines: tests never pull.
func copyImage(t *testing.T, from, to, ref string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `docker -H "$1" save "$3" | docker -H "$2" load`, "sh", from, to, ref)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy %s to the private engine: %v\n%s", ref, err, out)
	}
}

// containerPID is the host PID of a container's main process.
func containerPID(t *testing.T, addr, id string) int {
	t.Helper()
	out, err := exec.Command("docker", "-H", addr, "inspect", "-f", "{{.State.Pid}}", id).Output()
	if err != nil {
		t.Fatalf("inspect %.12s: %v", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("inspect %.12s: got pid %q", id, out)
	}
	return pid
}

// TestEngineOutage stops an engine holding running executions and starts
// it again. While it is down its host is offline, the executions on it are
// left as they are (an unreachable container is unknown, not dead), new
// work goes to the other host or waits saying why, and a termination is
// recorded at once. When it is back, its state is re-synchronised:
// containers that survived are kept, the ones that died meanwhile are
// handled like any death, and the containers of executions ended meanwhile
// are removed.
func TestEngineOutage(t *testing.T) {
	eng := startDockerd(t)
	h2 := engine(t, "h2", "ZOE_TEST_DOCKER_HOST2")
	copyImage(t, engine(t, "h1", "ZOE_TEST_DOCKER_HOST").Address, eng.addr, "zoe/busybox:test")
	e := newEnv(t, docker.HostConfig{Name: "h3", Address: eng.addr, ExternalAddress: "127.0.0.1", Labels: []string{"private"}}, h2)
	t.Cleanup(func() { removeDeployment(e.be, "h2") })
	ctx := context.Background()
	private := `["private"]`

	keep := e.submit(description("keep", svc{name: "app", cmd: "sleep 600", labels: private}))
	cluster := e.submit(description("cluster",
		svc{name: "master", cmd: "sleep 600", labels: private},
		svc{name: "worker", cmd: "sleep 600", essential: 1, total: 2, order: 1, labels: private}))
	dies := e.submit(description("dies", svc{name: "app", cmd: "sleep 600", labels: private}))
	ended := e.submit(description("ended", svc{name: "app", cmd: "sleep 600", labels: private}))
	before := map[int64][]store.Service{}
	for _, id := range []int64{keep, cluster, dies, ended} {
		e.waitStatus(id, store.StatusRunning)
		waitFor(t, 30*time.Second, "every service active", func() []string {
			var out []string
			for _, s := range e.services(id) {
				if s.Status != store.ServiceActive {
					out = append(out, fmt.Sprintf("execution %d: %s is %s", id, s.Name, s.Status))
				}
			}
			return out
		})
		before[id] = e.services(id)
		for _, s := range before[id] {
			if s.Host != "h3" {
				t.Fatalf("execution %d: %s on %q, want h3, the only host labelled private", id, s.Name, s.Host)
			}
		}
	}
	byName := func(ss []store.Service, name string) store.Service {
		for _, s := range ss {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no service %s in %+v", name, ss)
		return store.Service{}
	}
	diesPID := containerPID(t, eng.addr, before[dies][0].BackendID)
	workerPID := containerPID(t, eng.addr, byName(before[cluster], "worker1").BackendID)

	eng.stop(t)
	waitFor(t, 10*time.Second, "h3 offline", func() []string {
		for _, h := range e.m.Hosts() {
			if h.Name == "h3" && !h.Online && h.Err != "" {
				return nil
			}
		}
		return []string{fmt.Sprintf("hosts: %+v", e.m.Hosts())}
	})
	// Containers die while nobody watches: an essential one and an
	// elastic one.
	for _, pid := range []int{diesPID, workerPID} {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill container process %d: %v", pid, err)
		}
	}
	if err := e.m.Terminate(ctx, ended, "ended during the outage"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(ended, store.StatusTerminated)
	waiting := e.submit(description("waiting", svc{name: "app", cmd: "sleep 600", labels: private}))
	elsewhere := e.submit(description("elsewhere", svc{name: "app", cmd: "sleep 600"}))
	e.waitStatus(elsewhere, store.StatusRunning)
	if h := e.services(elsewhere)[0].Host; h != "h2" {
		t.Errorf("submitted during the outage: got host %q, want h2", h)
	}
	waitFor(t, 10*time.Second, "a wait reason naming the offline host", func() []string {
		w, ok := e.m.Wait(waiting)
		if ok && strings.Contains(fmt.Sprint(w.Reason, w.Hosts), "h3: offline") {
			return nil
		}
		return []string{fmt.Sprintf("got wait %+v (found %v)", w, ok)}
	})
	// Several passes later nothing on h3 has been declared dead.
	passes := e.m.Counters().Passes
	waitFor(t, 10*time.Second, "three more passes", func() []string {
		if n := e.m.Counters().Passes; n < passes+3 {
			return []string{fmt.Sprintf("%d passes", n-passes)}
		}
		return nil
	})
	for _, id := range []int64{keep, cluster, dies} {
		x, err := e.st.Execution(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := serviceDiff(before[id], e.services(id)); x.Status != store.StatusRunning || diff != "" {
			t.Errorf("execution %d while h3 is unreachable: got %q (%s), services changed: %s; want it left as it was", id, x.Status, x.ErrorMessage, diff)
		}
	}
	if x, _ := e.st.Execution(ctx, waiting); x.Status != store.StatusQueued {
		t.Errorf("execution needing h3: got %q, want queued", x.Status)
	}

	eng.start(t)
	waitFor(t, 15*time.Second, "h3 online again", func() []string {
		for _, h := range e.m.Hosts() {
			if h.Name == "h3" && h.Online {
				return nil
			}
		}
		return []string{fmt.Sprintf("hosts: %+v", e.m.Hosts())}
	})
	x := e.waitStatus(dies, store.StatusError)
	if want := "service app0 exited with code 137"; x.ErrorMessage != want {
		t.Errorf("execution whose container died during the outage: got message %q, want %q", x.ErrorMessage, want)
	}
	e.waitStatus(waiting, store.StatusRunning)
	waitFor(t, 30*time.Second, "the dead worker replaced, survivors kept", func() []string {
		var out []string
		if d := serviceDiff(before[keep], e.services(keep)); d != "" {
			out = append(out, "keep changed: "+d)
		}
		now := e.services(cluster)
		if d := serviceDiff([]store.Service{byName(before[cluster], "master0")}, []store.Service{byName(now, "master0")}); d != "" {
			out = append(out, "master0 changed: "+d)
		}
		w, old := byName(now, "worker1"), byName(before[cluster], "worker1")
		if w.Status != store.ServiceActive || w.BackendID == old.BackendID || w.RestartCount != 1 {
			out = append(out, fmt.Sprintf("worker1: got %s container %.12s restarts %d, want active in a new container, restarted once", w.Status, w.BackendID, w.RestartCount))
		}
		return out
	})
	for _, id := range []int64{keep, cluster} {
		if x, _ := e.st.Execution(ctx, id); x.Status != store.StatusRunning {
			t.Errorf("execution %d after the outage: got %q (%s), want running", id, x.Status, x.ErrorMessage)
		}
	}
	// The engine agrees with the store: the container of the execution
	// ended during the outage and the dead ones are gone.
	waitFor(t, 20*time.Second, "containers matching the active services", func() []string {
		want := map[string]string{}
		for _, id := range []int64{keep, cluster, waiting, elsewhere} {
			for _, s := range e.services(id) {
				want[s.BackendID] = fmt.Sprintf("%d/%s", id, s.Name)
			}
		}
		var out []string
		seen := map[string]bool{}
		for _, c := range e.containers() {
			seen[c.ID] = true
			if _, ok := want[c.ID]; !ok || c.State != "running" {
				out = append(out, fmt.Sprintf("unexpected container %s on %s (%s)", c.Name, c.Host, c.State))
			}
		}
		for id, who := range want {
			if !seen[id] {
				out = append(out, fmt.Sprintf("no container for %s", who))
			}
		}
		return out
	})
}

// serviceDiff says how the services' placement and containers changed.
func serviceDiff(before, after []store.Service) string {
	if len(before) != len(after) {
		return fmt.Sprintf("%d services, then %d", len(before), len(after))
	}
	var out []string
	for i := range before {
		b, a := before[i], after[i]
		if b.Name != a.Name || b.Status != a.Status || b.Host != a.Host || b.BackendID != a.BackendID || b.RestartCount != a.RestartCount {
			out = append(out, fmt.Sprintf("%s: %s on %s in %.12s, then %s: %s on %s in %.12s", b.Name, b.Status, b.Host, b.BackendID, a.Name, a.Status, a.Host, a.BackendID))
		}
	}
	return strings.Join(out, "; ")
}
