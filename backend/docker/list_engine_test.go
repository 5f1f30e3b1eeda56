package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// gateRuntime is an OCI runtime that holds every container's creation
// until the file open exists in the directory GATE, and says it is holding
// one by making the file waiting there. Everything else goes to runc. The
// engine runs it with an environment of its own, so GATE is written in.
const gateRuntime = `#!/bin/sh
for a in "$@"; do
	if [ "$a" = create ]; then
		touch "$GATE/waiting"
		while [ ! -e "$GATE/open" ]; do sleep 0.05; done
		break
	fi
done
exec runc "$@"
`

// TestListDuringSlowStart lists the containers of a host while the engine
// is starting one of them and holds it, as it does during a burst of
// launches: the engine keeps the container locked for the whole start, so
// a List that inspected it would wait for the start to end (here: never).
func TestListDuringSlowStart(t *testing.T) {
	var gate string
	eng := startEngineWith(t, func(dir string) (HostConfig, []string) {
		gate = dir
		script := filepath.Join(dir, "gate-runc")
		if err := os.WriteFile(script, []byte(strings.ReplaceAll(gateRuntime, "$GATE", dir)), 0o755); err != nil {
			t.Fatal(err)
		}
		addr := "unix://" + filepath.Join(dir, "d.sock")
		return HostConfig{Address: addr}, []string{"--host", addr,
			"--default-address-pool", "base=10.206.0.0/16,size=24", "--add-runtime", "gate=" + script}
	})
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"), HostConfig{Name: "h3", Address: eng.addr, ExternalAddress: "127.0.0.1"})
	ctx := testContext(t)
	copyImage(t, b, "h1", "h3", testImage)
	net := withNetwork(t, b, "h3")
	running := mustStart(t, b, "h3", spec(b, "run0", net, "sleep", "60"))

	h, err := b.host(ctx, "h3")
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc, nc := b.containerConfig(h, spec(b, "held0", net, "sleep", "60"))
	hc.Runtime = "gate"
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, "held0-"+b.deployment)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- h.cli.ContainerStart(context.Background(), created.ID, container.StartOptions{}) }()
	defer func() {
		// Let the start end whatever happened, so that the engine stops.
		_ = os.WriteFile(filepath.Join(gate, "open"), nil, 0o644)
		<-started
	}()
	waitFor(t, 30*time.Second, "the engine to run the held container's runtime", func() bool {
		_, err := os.Stat(filepath.Join(gate, "waiting"))
		return err == nil
	})

	// The start is held until the gate opens, which only happens after
	// List returned: a List waiting for the start runs into the deadline.
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := b.ListHost(lctx, "h3")
	if errors.Is(err, context.DeadlineExceeded) || lctx.Err() != nil {
		t.Fatalf("ListHost waited for a container's start: %v", err)
	}
	if err != nil {
		t.Fatalf("ListHost: %v", err)
	}
	states := map[string]string{}
	for _, c := range cs {
		states[c.ID] = c.State
	}
	if states[running.ContainerID] != "running" || states[created.ID] != "created" {
		t.Errorf("got states %v, want run0 (%s) running and held0 (%s) created", states, shortID(running.ContainerID), shortID(created.ID))
	}
	select {
	case err := <-started:
		t.Fatalf("the held start ended before the gate opened: %v", err)
	default:
	}
}
