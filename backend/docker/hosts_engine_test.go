package docker

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/backend"
)

func TestTwoHostsAndAnUnreachableOne(t *testing.T) {
	bogus := HostConfig{Name: "gone", Address: "unix://" + filepath.Join(t.TempDir(), "nothing.sock"), ExternalAddress: "127.0.0.1"}
	b := newTestBackend(t,
		engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"),
		engineHost(t, "ZOE_TEST_DOCKER_HOST2", "h2", "gpu"),
		bogus,
	)
	ctx := testContext(t)
	st := b.Check(ctx)
	want := []struct {
		name   string
		online bool
	}{{"h1", true}, {"h2", true}, {"gone", false}}
	for i, w := range want {
		if st[i].Name != w.name || st[i].Online != w.online {
			t.Errorf("status %d: got %s online %v (err %q), want %s online %v", i, st[i].Name, st[i].Online, st[i].Err, w.name, w.online)
		}
	}
	if !strings.Contains(st[2].Err, "engine unreachable") {
		t.Errorf("unreachable host: got err %q, want it to say the engine is unreachable", st[2].Err)
	}
	if st[1].Memory == 0 || len(st[1].Images) == 0 || st[1].Labels[0] != "gpu" {
		t.Errorf("h2: got %+v, want capacity, images and label gpu", st[1])
	}

	// Start on both live hosts; the dead one fails in a way worth retrying.
	var ids []string
	for _, h := range []string{"h1", "h2"} {
		s := mustStart(t, b, h, spec(b, "svc-"+h, withNetwork(t, b, h), "sleep", "60"))
		if s.Host != h {
			t.Errorf("started on %s, want %s", s.Host, h)
		}
		ids = append(ids, s.ContainerID)
	}
	_, err := b.Start(ctx, "gone", spec(b, "x", "net", "sleep", "1"))
	if !errors.Is(err, backend.ErrHostUnreachable) || !backend.IsRetryable(err) || !strings.Contains(err.Error(), "host gone") {
		t.Errorf("start on the dead host: got %v, want a retryable unreachable error naming it", err)
	}

	cs, err := b.List(ctx)
	if !errors.Is(err, backend.ErrHostUnreachable) || !strings.Contains(err.Error(), "host gone") {
		t.Errorf("List: got error %v, want one naming the unreachable host", err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.ID] = c.Host
	}
	if len(got) != 2 || got[ids[0]] != "h1" || got[ids[1]] != "h2" {
		t.Errorf("List: got %v, want one container on each live host", got)
	}
}

// TestEngineOutage stops and restarts an engine of its own (the shared test
// engines must stay up): the host goes offline, comes back by itself, and
// its event stream reconnects with a resync.
func TestEngineOutage(t *testing.T) {
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Fatalf("dockerd not found: run `make test` (scripts/testenv.sh installs it): %v", err)
	}
	eng := startEngine(t)
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"), HostConfig{Name: "h3", Address: eng.addr, ExternalAddress: "127.0.0.1"})
	ctx := testContext(t)
	copyImage(t, b, "h1", "h3", testImage)

	online := func(want bool) {
		t.Helper()
		st := b.Check(ctx)
		if !st[0].Online {
			t.Errorf("h1 went offline too: %s", st[0].Err)
		}
		if st[1].Online != want {
			t.Fatalf("h3: got online %v (err %q), want %v", st[1].Online, st[1].Err, want)
		}
		if !want && st[1].Err == "" {
			t.Errorf("h3 offline without a reason")
		}
	}
	online(true)

	evCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := b.Events(evCtx)
	resync := func(e backend.Event) bool { return e.Action == backend.ActionResync && e.Host == "h3" }
	nextEvent(t, ch, "first resync of h3", resync)

	eng.stop(t)
	online(false)
	if _, err := b.ListHost(ctx, "h3"); !backend.IsRetryable(err) {
		t.Errorf("ListHost on a stopped engine: got %v, want a retryable error", err)
	}
	eng.start(t)
	online(true)
	nextEvent(t, ch, "resync of h3 after the restart", resync)

	// The new stream delivers events.
	st := mustStart(t, b, "h3", spec(b, "after0", withNetwork(t, b, "h3"), "sh", "-c", "exit 5"))
	die := nextEvent(t, ch, "die on h3", func(e backend.Event) bool { return e.Action == backend.ActionDie && e.Host == "h3" })
	if die.ContainerID != st.ContainerID || die.ExitCode != 5 {
		t.Errorf("got %+v, want the die of %s with exit code 5", die, shortID(st.ContainerID))
	}
}

// engine is a private dockerd owned by one test.
type engine struct {
	dir   string
	addr  string
	args  []string   // extra dockerd arguments
	probe HostConfig // how to reach it
	cmd   *exec.Cmd
	log   *os.File
}

func startEngine(t *testing.T) *engine {
	return startEngineWith(t, func(dir string) (HostConfig, []string) {
		addr := "unix://" + filepath.Join(dir, "d.sock")
		return HostConfig{Address: addr}, []string{"--host", addr, "--default-address-pool", "base=10.203.0.0/16,size=24"}
	})
}

// startEngineWith starts an engine whose address and extra arguments setup
// chooses given the engine's directory.
func startEngineWith(t *testing.T, setup func(dir string) (HostConfig, []string)) *engine {
	t.Helper()
	// Short paths: containerd's socket lives under the exec root and unix
	// socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "zoe-eng")
	if err != nil {
		t.Fatal(err)
	}
	probe, args := setup(dir)
	e := &engine{dir: dir, addr: probe.Address, args: args, probe: probe}
	t.Cleanup(func() {
		e.stop(t)
		// Killing dockerd leaves nothing mounted once it has shut down
		// cleanly; a leftover mount makes RemoveAll fail, which we report.
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove engine dir: %v", err)
		}
	})
	e.start(t)
	return e
}

func (e *engine) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(e.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	e.log = f
	e.cmd = exec.Command("dockerd", append([]string{
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", filepath.Join(e.dir, "exec"),
		"--pidfile", filepath.Join(e.dir, "d.pid"),
		"--bridge=none", "--iptables=false", "--ip6tables=false",
	}, e.args...)...)
	e.cmd.Stdout, e.cmd.Stderr = f, f
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	cli, err := newClient(e.probe)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(f.Name())
			t.Fatalf("dockerd did not start: %v\n%s", err, tail(string(data), 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop shuts the engine down as an administrator would (SIGTERM) and waits.
func (e *engine) stop(t *testing.T) {
	t.Helper()
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
		t.Errorf("dockerd did not stop within 30 s; killed it")
	}
	e.cmd = nil
	e.log.Close()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// copyImage moves an image between engines the way `docker save | docker
// load` would, since tests never pull.
func copyImage(t *testing.T, b *Backend, from, to, ref string) {
	t.Helper()
	ctx := testContext(t)
	src, dst := b.byName[from].cli, b.byName[to].cli
	rc, err := src.ImageSave(ctx, []string{ref})
	if err != nil {
		t.Fatalf("save %s: %v", ref, err)
	}
	defer rc.Close()
	resp, err := dst.ImageLoad(ctx, rc)
	if err != nil {
		t.Fatalf("load %s: %v", ref, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("load %s: %v", ref, err)
	}
	if _, err := dst.ImageInspect(ctx, ref); err != nil {
		t.Fatalf("%s not on %s after load: %v", ref, to, err)
	}
}
