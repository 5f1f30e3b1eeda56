package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/backend"
)

// Tests in this package run against the private engines that scripts/test.sh
// starts; they never pull and they remove what they create.

const testImage = "zoe/busybox:test"

// engineHost is a configured test engine, reachable on loopback.
func engineHost(t *testing.T, env, name string, labels ...string) HostConfig {
	t.Helper()
	addr := os.Getenv(env)
	if addr == "" {
		t.Fatalf("%s not set: run `make test`", env)
	}
	return HostConfig{Name: name, Address: addr, ExternalAddress: "127.0.0.1", Labels: labels}
}

// newTestBackend makes a back-end with a deployment name of its own, and
// removes at the end every container and network carrying that name.
func newTestBackend(t *testing.T, hosts ...HostConfig) *Backend {
	t.Helper()
	b, err := New(hosts, Options{Deployment: uniqueName("zt"), Logger: testLogger(t), CheckTimeout: 5 * time.Second, EventsPing: time.Second})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, _ := b.List(ctx) // unreachable hosts are expected in some tests
		for _, c := range cs {
			if err := b.Remove(ctx, c.Host, c.ID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		for _, h := range b.hosts {
			ns, err := b.Networks(ctx, h.cfg.Name)
			if err != nil {
				continue
			}
			for _, n := range ns {
				if err := b.RemoveNetwork(ctx, h.cfg.Name, n); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		b.Close()
	})
	return b
}

func uniqueName(prefix string) string {
	var buf [4]byte
	rand.Read(buf[:])
	return prefix + hex.EncodeToString(buf[:])
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// spec is a busybox service on network net running cmd.
func spec(b *Backend, name, net string, cmd ...string) backend.ServiceSpec {
	return backend.ServiceSpec{
		Name:    name + "-" + b.deployment,
		Image:   testImage,
		Command: cmd,
		Network: net,
		Labels:  map[string]string{backend.LabelService: name, backend.LabelExecution: "1", backend.LabelOwner: "alice"},
	}
}

// withNetwork creates a network for one test on host.
func withNetwork(t *testing.T, b *Backend, host string) string {
	t.Helper()
	name := "net-" + b.deployment
	if err := b.EnsureNetwork(testContext(t), host, name, nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	return name
}

func mustStart(t *testing.T, b *Backend, host string, s backend.ServiceSpec) backend.Started {
	t.Helper()
	st, err := b.Start(testContext(t), host, s)
	if err != nil {
		t.Fatalf("Start %s: %v", s.Name, err)
	}
	return st
}

// waitExit polls until the container has stopped and returns its state.
func waitExit(t *testing.T, b *Backend, host, id string) backend.Container {
	t.Helper()
	var c backend.Container
	waitFor(t, 30*time.Second, "container "+shortID(id)+" to exit", func() bool {
		var err error
		c, err = b.Inspect(testContext(t), host, id)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		return c.State == "exited" || c.State == "dead"
	})
	return c
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readLogs returns a container's whole log.
func readLogs(t *testing.T, b *Backend, host, id string, tail int) string {
	t.Helper()
	rc, err := b.Logs(testContext(t), host, id, tail, false, false)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return string(data)
}

// nextEvent waits for the next event matching match.
func nextEvent(t *testing.T, ch <-chan backend.Event, what string, match func(backend.Event) bool) backend.Event {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("event channel closed waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no event: %s", what)
		}
	}
}
