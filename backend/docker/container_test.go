package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/backend"
)

func TestCheck(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1", "ssd", "disabled"))
	before := b.Status()
	if before[0].Online || before[0].Err == "" {
		t.Errorf("before Check: got online %v err %q, want offline with a reason", before[0].Online, before[0].Err)
	}
	got := b.Check(testContext(t))
	if len(got) != 1 {
		t.Fatalf("got %d statuses, want 1", len(got))
	}
	st := got[0]
	if !st.Online || st.Err != "" {
		t.Fatalf("got online %v err %q, want online", st.Online, st.Err)
	}
	if st.Memory < 64<<20 || st.MilliCores < 1000 || st.MilliCores%1000 != 0 {
		t.Errorf("got memory %d, milli-cores %d, want the engine's capacity", st.Memory, st.MilliCores)
	}
	if !slices.Contains(st.Images, testImage) {
		t.Errorf("images %v lack %s", st.Images, testImage)
	}
	if !slices.Contains(st.Labels, "ssd") || !st.Disabled {
		t.Errorf("got labels %v disabled %v, want ssd and disabled", st.Labels, st.Disabled)
	}
	if st.Name != "h1" || st.ExternalAddress != "127.0.0.1" || time.Since(st.CheckedAt) > time.Minute {
		t.Errorf("got %+v, want name h1, external 127.0.0.1, checked now", st)
	}
	if d := cmp.Diff(got, b.Status()); d != "" {
		t.Errorf("Status differs from the last Check (-check +status):\n%s", d)
	}
}

func TestImageNames(t *testing.T) {
	// Every tag, the bare name for :latest, no untagged images, no repeats.
	got := imageNames([]image.Summary{
		{RepoTags: []string{"zoe/jupyter:6.4", "zoe/jupyter:latest"}},
		{RepoTags: []string{"<none>:<none>"}},
		{RepoTags: nil},
		{RepoTags: []string{"busybox:latest", "zoe/jupyter:6.4"}},
	})
	want := []string{"busybox", "busybox:latest", "zoe/jupyter", "zoe/jupyter:6.4", "zoe/jupyter:latest"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("imageNames (-want +got):\n%s", d)
	}
}

func TestStartPublishesAndConfigures(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	ctx := testContext(t)
	net := withNetwork(t, b, "h1")
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from zoe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := spec(b, "web0", net, "httpd", "-f", "-p", "8000", "-h", "/www")
	s.Hostname = "web0-host"
	s.Env = []string{"ZOE_USER=alice", "MEM_LIMIT=67108864"}
	s.Memory = 64 << 20
	s.MemoryReservation = 32 << 20
	s.NanoCPUs = 500_000_000
	s.ShmSize = 8 << 20
	s.WorkDir = "/tmp"
	s.Mounts = []backend.Mount{{Source: www, Target: "/www", ReadOnly: true}}
	s.Ports = []backend.PortSpec{{Number: 8000}}
	s.Labels[backend.LabelDeployment] = "someone-else" // must be overridden

	st := mustStart(t, b, "h1", s)
	if len(st.Ports) != 1 || st.Ports[0].Number != 8000 || st.Ports[0].Protocol != "tcp" || st.Ports[0].HostIP != "127.0.0.1" || st.Ports[0].HostPort == 0 {
		t.Fatalf("got ports %+v, want 8000/tcp published on 127.0.0.1", st.Ports)
	}
	if st.Host != "h1" || st.ContainerID == "" {
		t.Errorf("got %+v, want host h1 and an ID", st)
	}

	url := fmt.Sprintf("http://%s:%d/index.html", st.Ports[0].HostIP, st.Ports[0].HostPort)
	var body string
	waitFor(t, 20*time.Second, "httpd to answer on "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return resp.StatusCode == http.StatusOK
	})
	if body != "hello from zoe\n" {
		t.Errorf("got body %q, want the file", body)
	}

	ins, err := b.byName["h1"].cli.ContainerInspect(ctx, st.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	hc, cfg := ins.HostConfig, ins.Config
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", ins.Name, "/" + s.Name},
		{"hostname", cfg.Hostname, "web0-host"},
		{"workdir", cfg.WorkingDir, "/tmp"},
		{"env has ZOE_USER", slices.Contains(cfg.Env, "ZOE_USER=alice"), true},
		{"env has MEM_LIMIT", slices.Contains(cfg.Env, "MEM_LIMIT=67108864"), true},
		{"label deployment", cfg.Labels[backend.LabelDeployment], b.deployment},
		{"label managed-by", cfg.Labels[backend.LabelManagedBy], "zoe"},
		{"label service", cfg.Labels[backend.LabelService], "web0"},
		{"label owner", cfg.Labels[backend.LabelOwner], "alice"},
		{"memory", hc.Memory, int64(64 << 20)},
		{"memory swap", hc.MemorySwap, int64(64 << 20)},
		{"memory reservation", hc.MemoryReservation, int64(32 << 20)},
		{"nano CPUs", hc.NanoCPUs, int64(500_000_000)},
		{"shm", hc.ShmSize, int64(8 << 20)},
		{"privileged", hc.Privileged, false},
		{"cap add", len(hc.CapAdd), 0},
		{"cap drop", strings.Join(hc.CapDrop, ","), "CAP_NET_RAW"},
		{"devices", len(hc.Devices), 0},
		{"network mode", string(hc.NetworkMode), net},
		{"pid mode", string(hc.PidMode), ""},
		{"mounts", len(hc.Mounts), 1},
		{"mount type", hc.Mounts[0].Type, mount.TypeBind},
		{"mount read-only", hc.Mounts[0].ReadOnly, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestStartMounts(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	net := withNetwork(t, b, "h1")
	tests := []struct {
		name     string
		readOnly bool
		wantExit int
		wantFile bool
	}{
		{"read-only", true, 1, false},
		{"read-write", false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := spec(b, "w"+strings.ReplaceAll(tt.name, "-", ""), net, "sh", "-c", "echo x > /mnt/workspace/f")
			s.Mounts = []backend.Mount{{Source: dir, Target: "/mnt/workspace", ReadOnly: tt.readOnly}}
			st := mustStart(t, b, "h1", s)
			c := waitExit(t, b, "h1", st.ContainerID)
			if c.ExitCode != tt.wantExit {
				t.Errorf("got exit code %d, want %d (log: %q)", c.ExitCode, tt.wantExit, readLogs(t, b, "h1", st.ContainerID, 0))
			}
			_, err := os.Stat(filepath.Join(dir, "f"))
			if got := err == nil; got != tt.wantFile {
				t.Errorf("file written: got %v, want %v", got, tt.wantFile)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	net := withNetwork(t, b, "h1")
	taken := spec(b, "taken", net, "sleep", "60")
	mustStart(t, b, "h1", taken)

	tests := []struct {
		name      string
		host      string
		edit      func(*backend.ServiceSpec)
		wantIs    error
		wantMsg   string
		retryable bool
	}{
		{
			name:    "image missing",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Image = "zoe/missing:6.4" },
			wantIs:  backend.ErrImageMissing,
			wantMsg: "image zoe/missing:6.4 is not on host h1",
		},
		{
			name:    "host network",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Network = "host" },
			wantIs:  backend.ErrInvalidSpec,
			wantMsg: `network "host" is not allowed`,
		},
		{
			name:    "another container's network",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Network = "container:" + taken.Name },
			wantIs:  backend.ErrInvalidSpec,
			wantMsg: "is not allowed",
		},
		{
			name:    "name taken",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Name = taken.Name },
			wantIs:  backend.ErrConflict,
			wantMsg: "a container of that name exists already",
		},
		{
			name: "mount source missing",
			host: "h1",
			edit: func(s *backend.ServiceSpec) {
				s.Mounts = []backend.Mount{{Source: "/nonexistent/zoe", Target: "/mnt/workspace"}}
			},
			wantIs:  backend.ErrInvalidSpec,
			wantMsg: "/nonexistent/zoe",
		},
		{
			name:    "command not found",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Command = []string{"/no/such/binary"} },
			wantMsg: "/no/such/binary",
		},
		{
			name:    "unknown network",
			host:    "h1",
			edit:    func(s *backend.ServiceSpec) { s.Network = "no-such-net-" + b.deployment },
			wantMsg: "no-such-net-",
		},
		{
			name:    "unknown host",
			host:    "h9",
			edit:    func(s *backend.ServiceSpec) {},
			wantIs:  backend.ErrUnknownHost,
			wantMsg: "host h9",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec(b, fmt.Sprintf("bad%d", i), net, "sleep", "60")
			tt.edit(&s)
			_, err := b.Start(testContext(t), tt.host, s)
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, want it to contain %q", err, tt.wantMsg)
			}
			if got := backend.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable: got %v, want %v", got, tt.retryable)
			}
		})
	}
	// Every failed start cleaned up after itself: only "taken" is left.
	cs, err := b.List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if d := cmp.Diff([]string{taken.Name}, names); d != "" {
		t.Errorf("containers left (-want +got):\n%s", d)
	}
	var ime *backend.ImageMissingError
	_, err = b.Start(testContext(t), "h1", backend.ServiceSpec{Name: "x-" + b.deployment, Image: "zoe/missing:6.4", Network: net})
	if !errors.As(err, &ime) || ime.Image != "zoe/missing:6.4" || ime.Host != "h1" || err.Error() != "image zoe/missing:6.4 is not on host h1" {
		t.Errorf("got %v, want exactly an ImageMissingError for zoe/missing:6.4 on h1", err)
	}
}

func TestListInspectRemove(t *testing.T) {
	h1 := engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1")
	b := newTestBackend(t, h1)
	other := newTestBackend(t, h1) // another deployment on the same engine
	ctx := testContext(t)
	net := withNetwork(t, b, "h1")
	run := mustStart(t, b, "h1", spec(b, "run0", net, "sleep", "60"))
	done := mustStart(t, b, "h1", spec(b, "done0", net, "sh", "-c", "exit 7"))
	mustStart(t, other, "h1", spec(other, "foreign0", withNetwork(t, other, "h1"), "sleep", "60"))
	waitExit(t, b, "h1", done.ContainerID)

	cs, err := b.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	got := map[string]backend.Container{}
	for _, c := range cs {
		got[c.Name] = c
	}
	if len(got) != 2 {
		t.Fatalf("got %d containers %v, want this deployment's 2", len(got), cs)
	}
	r, d := got["run0-"+b.deployment], got["done0-"+b.deployment]
	if r.ID != run.ContainerID || r.State != "running" || r.Status() != backend.StatusStarted || r.Host != "h1" || !r.StartedAt.IsZero() || r.Labels[backend.LabelService] != "run0" {
		t.Errorf("running container: got %+v, want it from the summary, without times", r)
	}
	if d.ID != done.ContainerID || d.State != "exited" || d.Status() != backend.StatusDead || d.ExitCode != 7 || d.OOMKilled || d.FinishedAt.IsZero() {
		t.Errorf("exited container: got %+v", d)
	}

	c, err := b.Inspect(ctx, "h1", run.ContainerID)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if c.StartedAt.IsZero() {
		t.Errorf("Inspect of the running container: no start time in %+v", c)
	}
	c.StartedAt = time.Time{}
	if d := cmp.Diff(r, c); d != "" {
		t.Errorf("Inspect differs from List, start time aside (-list +inspect):\n%s", d)
	}
	c, err = b.Inspect(ctx, "h1", done.ContainerID)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if diff := cmp.Diff(d, c); diff != "" {
		t.Errorf("Inspect of the exited container differs from List (-list +inspect):\n%s", diff)
	}

	if err := b.Stop(ctx, "h1", run.ContainerID, time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c, _ := b.Inspect(ctx, "h1", run.ContainerID); c.Status() != backend.StatusDead {
		t.Errorf("after Stop: got state %s, want exited", c.State)
	}
	for _, id := range []string{run.ContainerID, done.ContainerID} {
		if err := b.Remove(ctx, "h1", id); err != nil {
			t.Errorf("Remove: %v", err)
		}
		if err := b.Remove(ctx, "h1", id); err != nil {
			t.Errorf("Remove again: got %v, want nil", err)
		}
		if err := b.Stop(ctx, "h1", id, time.Second); err != nil {
			t.Errorf("Stop after Remove: got %v, want nil", err)
		}
		if _, err := b.Inspect(ctx, "h1", id); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("Inspect after Remove: got %v, want ErrNotFound", err)
		}
	}
	if cs, err := b.List(ctx); err != nil || len(cs) != 0 {
		t.Errorf("List after Remove: got %v, %v, want none", cs, err)
	}
}

func TestLogs(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	net := withNetwork(t, b, "h1")
	st := mustStart(t, b, "h1", spec(b, "log0", net, "sh", "-c", "for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done"))
	waitExit(t, b, "h1", st.ContainerID)

	tests := []struct {
		tail int
		want string
	}{
		{0, "out1\nerr1\nout2\nerr2\nout3\nerr3\n"},
		{2, "out3\nerr3\n"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("tail %d", tt.tail), func(t *testing.T) {
			if got := readLogs(t, b, "h1", st.ContainerID, tt.tail); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("timestamps", func(t *testing.T) {
		rc, err := b.Logs(testContext(t), "h1", st.ContainerID, 1, false, true)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, _ := io.ReadAll(rc)
		ts, line, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || line != "err3" {
			t.Errorf("got %q, want a timestamp then err3", data)
		}
	})

	t.Run("follow stops on cancel", func(t *testing.T) {
		st := mustStart(t, b, "h1", spec(b, "log1", net, "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done"))
		ctx, cancel := context.WithCancel(testContext(t))
		rc, err := b.Logs(ctx, "h1", st.ContainerID, 0, true, false)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		buf := make([]byte, 0, 4096)
		for !strings.Contains(string(buf), "tick3\n") {
			p := make([]byte, 256)
			n, err := rc.Read(p)
			if err != nil {
				t.Fatalf("read: %v after %q", err, buf)
			}
			buf = append(buf, p[:n]...)
		}
		cancel()
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, rc)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("after cancel: got %v, want a clean end of stream", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("follow did not stop after cancel")
		}
	})

	if _, err := b.Logs(testContext(t), "h1", "nosuchcontainer", 0, false, false); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("logs of a missing container: got %v, want ErrNotFound", err)
	}
}

func TestEvents(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	other := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	ctx, cancel := context.WithCancel(testContext(t))
	ch := b.Events(ctx)
	nextEvent(t, ch, "resync on connect", func(e backend.Event) bool { return e.Action == backend.ActionResync && e.Host == "h1" })

	// Another deployment's container must not show up.
	mustStart(t, other, "h1", spec(other, "foreign0", withNetwork(t, other, "h1"), "sh", "-c", "exit 1"))
	net := withNetwork(t, b, "h1")
	st := mustStart(t, b, "h1", spec(b, "ev0", net, "sh", "-c", "sleep 0.2; exit 3"))

	mine := func(action string) func(backend.Event) bool {
		return func(e backend.Event) bool {
			if e.Labels[backend.LabelDeployment] != b.deployment {
				t.Errorf("got an event of another deployment: %+v", e)
			}
			return e.Action == action
		}
	}
	start := nextEvent(t, ch, "start", mine(backend.ActionStart))
	die := nextEvent(t, ch, "die", mine(backend.ActionDie))
	for _, e := range []backend.Event{start, die} {
		if e.ContainerID != st.ContainerID || e.Host != "h1" || e.Labels[backend.LabelService] != "ev0" || e.At.IsZero() {
			t.Errorf("got %+v, want container %s on h1 with its labels", e, shortID(st.ContainerID))
		}
	}
	if die.ExitCode != 3 || die.OOMKilled {
		t.Errorf("die: got exit code %d oom %v, want 3, false", die.ExitCode, die.OOMKilled)
	}
	if err := b.Remove(ctx, "h1", st.ContainerID); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ch, "destroy", mine(backend.ActionDestroy)); e.ContainerID != st.ContainerID {
		t.Errorf("destroy: got container %s, want %s", e.ContainerID, st.ContainerID)
	}
	cancel()
	for range ch {
		// drained: the channel must close once ctx is done
	}
}

func TestOOMKilled(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	ch := b.Events(ctx)
	net := withNetwork(t, b, "h1")
	s := spec(b, "hog0", net, "sh", "-c", `x=$(head -c 64000000 /dev/zero | tr "\0" a); sleep 1`)
	s.Memory = 16 << 20
	st := mustStart(t, b, "h1", s)
	die := nextEvent(t, ch, "die", func(e backend.Event) bool { return e.Action == backend.ActionDie && e.ContainerID == st.ContainerID })
	if !die.OOMKilled || die.ExitCode != 137 {
		t.Errorf("die: got oom %v exit code %d, want true, 137", die.OOMKilled, die.ExitCode)
	}
	c, err := b.Inspect(ctx, "h1", st.ContainerID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OOMKilled || c.Status() != backend.StatusDead {
		t.Errorf("inspect: got %+v, want OOM-killed and dead", c)
	}
}

func TestNetwork(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	ctx := testContext(t)
	net := "net-" + b.deployment
	for i := range 2 {
		if err := b.EnsureNetwork(ctx, "h1", net, map[string]string{backend.LabelExecution: "42"}); err != nil {
			t.Fatalf("EnsureNetwork #%d: %v", i+1, err)
		}
	}
	n, err := b.byName["h1"].cli.NetworkInspect(ctx, net, network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Driver != "bridge" || n.Labels[backend.LabelDeployment] != b.deployment || n.Labels[backend.LabelExecution] != "42" {
		t.Errorf("got driver %s labels %v, want a bridge labelled with the deployment and execution", n.Driver, n.Labels)
	}
	if ns, err := b.Networks(ctx, "h1"); err != nil || !slices.Equal(ns, []string{net}) {
		t.Errorf("Networks: got %v, %v, want [%s]", ns, err, net)
	}

	srv := spec(b, "srv0", net, "httpd", "-f", "-p", "8000", "-h", "/etc")
	srv.Aliases = []string{"web"}
	mustStart(t, b, "h1", srv)
	for _, target := range []string{srv.Name, "web"} {
		t.Run("reach "+target, func(t *testing.T) {
			cmd := fmt.Sprintf("for i in $(seq 1 50); do wget -q -O - http://%s:8000/passwd && exit 0; sleep 0.2; done; exit 1", target)
			cl := mustStart(t, b, "h1", spec(b, "cl"+strings.ReplaceAll(uniqueName(""), "-", ""), net, "sh", "-c", cmd))
			c := waitExit(t, b, "h1", cl.ContainerID)
			if logs := readLogs(t, b, "h1", cl.ContainerID, 0); c.ExitCode != 0 || !strings.Contains(logs, "root:x:0:0") {
				t.Errorf("got exit %d, log %q, want the server's /etc/passwd", c.ExitCode, logs)
			}
		})
	}

	if err := b.RemoveNetwork(ctx, "h1", net); !errors.Is(err, backend.ErrInUse) {
		t.Errorf("RemoveNetwork in use: got %v, want ErrInUse", err)
	}
	cs, _ := b.List(ctx)
	for _, c := range cs {
		if err := b.Remove(ctx, "h1", c.ID); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := b.RemoveNetwork(ctx, "h1", net); err != nil {
			t.Errorf("RemoveNetwork #%d: %v", i+1, err)
		}
	}

	// A network someone else made is used but never removed.
	other := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"))
	shared := withNetwork(t, other, "h1")
	if err := b.EnsureNetwork(ctx, "h1", shared, nil); err != nil {
		t.Errorf("EnsureNetwork on a foreign network: %v", err)
	}
	if err := b.RemoveNetwork(ctx, "h1", shared); err != nil {
		t.Errorf("RemoveNetwork on a foreign network: %v", err)
	}
	if _, err := other.byName["h1"].cli.NetworkInspect(ctx, shared, network.InspectOptions{}); err != nil {
		t.Errorf("the foreign network was removed: %v", err)
	}
}
