package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
)

// pushTestImage puts an image made from zoe/busybox:test on engine from
// into the registry of the test command, and removes it from engine to. The
// image gets a label of its own, so that engine to has no image of the same
// digest under another name (it would tag that one and pull nothing).
func pushTestImage(t *testing.T, from, to string) string {
	t.Helper()
	reg := os.Getenv("ZOE_TEST_REGISTRY")
	if reg == "" {
		t.Fatal("ZOE_TEST_REGISTRY not set: run `make test` (scripts/testenv.sh up starts the registry)")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	unique := "lt" + hex.EncodeToString(b)
	ref := reg + "/zoe/busybox-" + unique + ":test"
	docker := func(host string, args ...string) (string, error) {
		out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	t.Cleanup(func() {
		_, _ = docker(from, "rmi", "-f", ref)
		_, _ = docker(to, "rmi", "-f", ref)
	})
	id, err := docker(from, "create", "zoe/busybox:test")
	if err != nil {
		t.Fatalf("docker create: %v: %s", err, id)
	}
	out, err := docker(from, "commit", "--change", "LABEL zoe.test="+unique, id, ref)
	_, _ = docker(from, "rm", "-f", id)
	if err != nil {
		t.Fatalf("docker commit: %v: %s", err, out)
	}
	if out, err := docker(from, "push", ref); err != nil {
		t.Fatalf("docker push %s: %v: %s", ref, err, out)
	}
	if out, err := docker(to, "rmi", "-f", ref); err != nil && !strings.Contains(out, "No such image") {
		t.Fatalf("docker rmi %s: %v: %s", ref, err, out)
	}
	return ref
}

// pulling makes e's scheduler place services on hosts that lack their
// image, as zoe serve does when the back-end pulls missing images.
func (e *env) pulling() {
	e.m.Stop()
	sch, err := scheduler.New(scheduler.Config{Backfill: true, PullImages: true})
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = New(e.st, e.be, sch, e.m.cfg)
	e.m.Start(context.Background())
}

func (e *env) events(id int64) []store.Event {
	e.t.Helper()
	evs, err := e.st.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestPullFromRegistry(t *testing.T) {
	h1, h2 := engine(t, "h1", "ZOE_TEST_DOCKER_HOST"), engine(t, "h2", "ZOE_TEST_DOCKER_HOST2")
	ref := pushTestImage(t, h1.Address, h2.Address)
	// Zoe knows only engine 2, which lacks the image.
	e := newEnv(t, h2)
	e.pulling()

	id := e.submit(description("pulled", svc{name: "box", image: ref, cmd: "sleep 60"}))
	e.waitStatus(id, store.StatusRunning)

	ss := e.services(id)
	if len(ss) != 1 || ss[0].Status != store.ServiceActive || ss[0].Host != "h2" {
		t.Fatalf("got services %+v, want box0 active on h2", ss)
	}
	var kinds []string
	for _, ev := range e.events(id) {
		kinds = append(kinds, ev.Kind)
		switch ev.Kind {
		case "pulling image":
			if want := "box0: pulling " + ref + " onto h2"; ev.Message != want {
				t.Errorf("pulling image: got %q, want %q", ev.Message, want)
			}
		case "image pulled":
			if want := "box0: " + ref + " is on h2"; ev.Message != want {
				t.Errorf("image pulled: got %q, want %q", ev.Message, want)
			}
		}
	}
	// Progress events in between depend on the pull's speed.
	kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == "pull progress" })
	if d := cmp.Diff([]string{"submitted", "queued", "starting", "pulling image", "image pulled", "container started", "running"}, kinds); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if ps := e.m.Phases(id); len(ps) != 0 {
		t.Errorf("got phases %+v of a running execution, want none", ps)
	}
}

// A launch does not ask the engine for an image the host's last check
// listed. When it was removed since, the create finds out, and the launch
// looks for it (pulls it) and starts after all.
func TestImageRemovedSinceCheck(t *testing.T) {
	h1, h2 := engine(t, "h1", "ZOE_TEST_DOCKER_HOST"), engine(t, "h2", "ZOE_TEST_DOCKER_HOST2")
	ref := pushTestImage(t, h1.Address, h2.Address)
	if out, err := exec.Command("docker", "-H", h2.Address, "pull", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker pull: %v: %s", err, out)
	}
	// No check of the hosts but the one at start, which lists the image.
	e := newEnvConfig(t, func(c *Config) { c.Resync = time.Hour }, h2)
	e.pulling()
	if hs := e.m.Hosts(); len(hs) != 1 || !slices.Contains(hs[0].Images, ref) {
		t.Fatalf("got hosts %+v, want h2 listing %s", hs, ref)
	}
	if out, err := exec.Command("docker", "-H", h2.Address, "rmi", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker rmi: %v: %s", err, out)
	}

	id := e.submit(description("removed", svc{name: "box", image: ref, cmd: "sleep 60"}))
	e.waitStatus(id, store.StatusRunning)
	var kinds []string
	for _, ev := range e.events(id) {
		if ev.Kind != "pull progress" {
			kinds = append(kinds, ev.Kind)
		}
	}
	if d := cmp.Diff([]string{"submitted", "queued", "starting", "pulling image", "image pulled", "container started", "running"}, kinds); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
}

func TestPullFailsClearly(t *testing.T) {
	e := newEnv(t, engine(t, "h2", "ZOE_TEST_DOCKER_HOST2"))
	e.pulling()
	// A registry on a closed local port: the pull fails at once.
	const image = "127.0.0.1:1/zoe/nothing:1"
	id := e.submit(description("nopull", svc{name: "box", image: image, cmd: "sleep 60"}))
	x := e.waitStatus(id, store.StatusError)
	want := "service box0: image " + image + " is not on host h2 and could not be pulled: "
	if !strings.HasPrefix(x.ErrorMessage, want) {
		t.Errorf("got error %q, want it to start with %q", x.ErrorMessage, want)
	}
	if ss := e.services(id); len(ss) != 1 || !strings.Contains(ss[0].ErrorMessage, image) {
		t.Errorf("got services %+v, want box0's error naming the image", ss)
	}
	if cs := e.containers(); len(cs) != 0 {
		t.Errorf("got containers %+v, want none", cs)
	}
}

// TestPullReporter follows the events and phases one pull leaves, on a
// clock the test moves.
func TestPullReporter(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	owner := store.User{Username: "alice", Role: "user", Source: "builtin", Enabled: true}
	uid, err := st.CreateUser(ctx, &owner)
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.CreateExecution(ctx, &store.Execution{Name: "x", UserID: uid, Status: store.StatusStarting, Description: []byte("{}"), SubmittedAt: time.Unix(0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	m := New(st, nil, nil, Config{Now: func() time.Time { return now }})

	phase := Phase{Service: "box0", Step: StepImage, Image: "r/box:1", Host: "h2"}
	report := m.pullReporter(ctx, id, phase)
	steps := []struct {
		after   time.Duration
		percent int
	}{
		{0, 0},                       // first: "pulling image"
		{500 * time.Millisecond, 20}, // too soon
		{time.Second, 25},            // an event
		{2 * time.Second, 30},        // moved too little
		{time.Second, 40},            // an event
		{time.Second, 100},           // the end has an event of its own
	}
	for _, s := range steps {
		now = now.Add(s.after)
		report(backend.PullProgress{Image: "r/box:1", Host: "h2", Layers: 2, LayersDone: 1, Downloaded: 3 << 20, Size: 6 << 20, Percent: s.percent})
		ps := m.Phases(id)
		if len(ps) != 1 || ps[0].Step != StepPulling || ps[0].Pull.Percent != s.percent {
			t.Fatalf("after %d%%: got phases %+v, want box0 pulling at %d%%", s.percent, ps, s.percent)
		}
	}
	evs, err := st.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, fmt.Sprintf("%s: %s", ev.Kind, ev.Message))
	}
	want := []string{
		"pulling image: box0: pulling r/box:1 onto h2",
		"pull progress: box0: 25% (1 of 2 layers, 3.0 MiB of 6.0 MiB)",
		"pull progress: box0: 40% (1 of 2 layers, 3.0 MiB of 6.0 MiB)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	m.clearPhase(id, "box0")
	if ps := m.Phases(id); len(ps) != 0 {
		t.Errorf("got phases %+v after clearing, want none", ps)
	}
}

// hangingRegistry is a registry address that accepts connections and never
// answers: a pull from it lasts until someone gives up.
func hangingRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// waitPhase waits until a service of execution id is at step.
func (e *env) waitPhase(id int64, step string) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ps := e.m.Phases(id)
		if len(ps) > 0 && ps[0].Step == step {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %d: got phases %+v, want one at step %s; history: %+v", id, ps, step, e.events(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTerminateOrStopDuringPull(t *testing.T) {
	e := newEnv(t, engine(t, "h2", "ZOE_TEST_DOCKER_HOST2"))
	e.pulling()
	image := hangingRegistry(t) + "/zoe/slow:1"

	// Terminating ends the pull: the execution is terminated, not failed.
	id := e.submit(description("slowpull", svc{name: "box", image: image, cmd: "sleep 60"}))
	e.waitPhase(id, StepImage)
	if err := e.m.Terminate(context.Background(), id, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if x := e.waitStatus(id, store.StatusTerminated); x.ErrorMessage != "changed my mind" {
		t.Errorf("got message %q, want the reason", x.ErrorMessage)
	}
	if ss := e.services(id); len(ss) != 1 || ss[0].ErrorMessage != "" {
		t.Errorf("got services %+v, want box0 with no error: its pull was given up, it did not fail", ss)
	}

	// Stop ends the pull and leaves the execution starting, for the next
	// start of Zoe to queue again.
	id = e.submit(description("slowpull2", svc{name: "box", image: image, cmd: "sleep 60"}))
	e.waitPhase(id, StepImage)
	e.m.Stop()
	x, err := e.st.Execution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if x.Status != store.StatusStarting {
		t.Errorf("after Stop: got status %q (%s), want starting; history: %+v", x.Status, x.ErrorMessage, e.events(id))
	}
	if ps := e.m.Phases(id); len(ps) != 0 {
		t.Errorf("after Stop: got phases %+v, want none", ps)
	}
}
