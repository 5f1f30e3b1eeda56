package docker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/zoe-analytics/zoe/backend"
)

// Start creates and starts one container on host and returns the host ports
// its ports were published on (random ports, bound to 127.0.0.1 when the
// host's external address is a loopback address, to 0.0.0.0 otherwise).
//
// The container never gets privileges, added capabilities, devices, or the
// host's network, PID or IPC namespaces: ServiceSpec cannot ask for them and
// a Network of "host" or "container:…" is refused. The image must be on the
// host already (see EnsureImage); if it is not, the error is an
// *backend.ImageMissingError. Whatever fails after the container was created
// removes it again, so a failed Start leaves nothing behind.
func (b *Backend) Start(ctx context.Context, hostName string, spec backend.ServiceSpec) (backend.Started, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return backend.Started{}, err
	}
	if err := validate(spec); err != nil {
		return backend.Started{}, fmt.Errorf("start %s on %s: %w", spec.Name, hostName, err)
	}
	cfg, hc, nc := b.containerConfig(h, spec)
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, spec.Name)
	if err != nil && strings.Contains(err.Error(), "is ambiguous") && spec.Network != "" {
		// Two networks of the execution's name: a create request of a Zoe
		// killed mid-start that the engine finished after EnsureNetwork had
		// made the network again. Keep one and try once more.
		if derr := b.dedupe(ctx, h, spec.Network); derr == nil {
			created, err = h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, spec.Name)
		}
	}
	if err != nil {
		err = classify(err)
		if isNotFound(err) && strings.Contains(err.Error(), "No such image") {
			// The lifecycle made sure of the image (EnsureImage) just before;
			// asking the engine again would cost every launch a round trip.
			return backend.Started{}, &backend.ImageMissingError{Image: spec.Image, Host: hostName}
		}
		if isConflict(err) {
			return backend.Started{}, fmt.Errorf("start %s on %s: a container of that name exists already: %w", spec.Name, hostName, err)
		}
		return backend.Started{}, fmt.Errorf("start %s on %s: create: %w", spec.Name, hostName, err)
	}
	started, err := b.startCreated(ctx, h, created.ID, spec)
	if err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if rerr := h.cli.ContainerRemove(cctx, created.ID, container.RemoveOptions{Force: true}); rerr != nil && !isNotFound(classify(rerr)) {
			b.log.Warn("could not remove a container that failed to start", "host", hostName, "container", spec.Name, "err", rerr)
		}
		return backend.Started{}, fmt.Errorf("start %s on %s: %w", spec.Name, hostName, err)
	}
	return started, nil
}

func (b *Backend) startCreated(ctx context.Context, h *host, id string, spec backend.ServiceSpec) (backend.Started, error) {
	if err := h.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return backend.Started{}, classify(err)
	}
	ins, err := h.cli.ContainerInspect(ctx, id)
	if err != nil {
		return backend.Started{}, fmt.Errorf("inspect: %w", classify(err))
	}
	st := backend.Started{ContainerID: id, Host: h.cfg.Name}
	if ins.NetworkSettings != nil {
		if n, ok := ins.NetworkSettings.Networks[spec.Network]; ok && n != nil {
			st.Address = n.IPAddress
		}
	}
	for _, p := range spec.Ports {
		proto := protocol(p)
		key := nat.Port(fmt.Sprintf("%d/%s", p.Number, proto))
		var bound []nat.PortBinding
		if ins.NetworkSettings != nil {
			bound = ins.NetworkSettings.Ports[key]
		}
		pub, ok := pickBinding(bound)
		if !ok {
			// A container that exited at once has no bindings left.
			if ins.State != nil && !ins.State.Running {
				return backend.Started{}, fmt.Errorf("exited at once with code %d%s", ins.State.ExitCode, stateError(ins.State))
			}
			return backend.Started{}, fmt.Errorf("port %s was not published", key)
		}
		pub.Number, pub.Protocol = p.Number, proto
		st.Ports = append(st.Ports, pub)
	}
	return st, nil
}

func stateError(s *container.State) string {
	if s.Error == "" {
		return ""
	}
	return ": " + s.Error
}

// pickBinding prefers the IPv4 binding: engines that publish on 0.0.0.0
// also report a [::] binding for the same port.
func pickBinding(bs []nat.PortBinding) (backend.Published, bool) {
	var best *nat.PortBinding
	for i := range bs {
		if best == nil || (strings.Contains(best.HostIP, ":") && !strings.Contains(bs[i].HostIP, ":")) {
			best = &bs[i]
		}
	}
	if best == nil {
		return backend.Published{}, false
	}
	port, err := strconv.Atoi(best.HostPort)
	if err != nil || port == 0 {
		return backend.Published{}, false
	}
	return backend.Published{HostIP: best.HostIP, HostPort: port}, true
}

func protocol(p backend.PortSpec) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// validate refuses what the engine would accept but Zoe must not do, and
// what would only fail later with a less useful message.
func validate(spec backend.ServiceSpec) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", backend.ErrInvalidSpec, fmt.Sprintf(format, a...))
	}
	switch {
	case spec.Name == "":
		return bad("name is empty")
	case spec.Image == "":
		return bad("image is empty")
	case spec.Network == "":
		return bad("network is empty")
	case spec.Network == "host" || spec.Network == "none" || strings.HasPrefix(spec.Network, "container:"):
		return bad("network %q is not allowed: use a user-defined network", spec.Network)
	case spec.Memory < 0 || spec.MemoryReservation < 0 || spec.NanoCPUs < 0 || spec.ShmSize < 0:
		return bad("memory, reservation, CPUs and shm must not be negative")
	case spec.Memory > 0 && spec.MemoryReservation > spec.Memory:
		return bad("memory reservation %d exceeds the limit %d", spec.MemoryReservation, spec.Memory)
	case spec.WorkDir != "" && !path.IsAbs(spec.WorkDir):
		return bad("work dir %q is not absolute", spec.WorkDir)
	}
	for i, p := range spec.Ports {
		if p.Number < 1 || p.Number > 65535 {
			return bad("ports[%d]: number %d out of range", i, p.Number)
		}
		if pr := protocol(p); pr != "tcp" && pr != "udp" {
			return bad("ports[%d]: protocol %q: want tcp or udp", i, p.Protocol)
		}
	}
	for i, m := range spec.Mounts {
		if !path.IsAbs(m.Source) || !path.IsAbs(m.Target) {
			return bad("mounts[%d]: source %q and target %q must be absolute paths", i, m.Source, m.Target)
		}
		if path.Clean(m.Source) == "/" || path.Clean(m.Target) == "/" {
			return bad("mounts[%d]: mounting / is not allowed", i)
		}
	}
	for _, e := range spec.Env {
		if !strings.Contains(e, "=") {
			return bad("environment entry %q: want NAME=value", e)
		}
	}
	return nil
}

// pidsLimit bounds the processes of one service.
const pidsLimit = 4096

func (b *Backend) containerConfig(h *host, spec backend.ServiceSpec) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	pids := int64(pidsLimit)
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.Name
	}
	cfg := &container.Config{
		Hostname:     hostname,
		Image:        spec.Image,
		Env:          spec.Env,
		WorkingDir:   spec.WorkDir,
		Labels:       b.labels(spec.Labels),
		ExposedPorts: nat.PortSet{},
	}
	if spec.Command != nil {
		cfg.Cmd = spec.Command
	}
	hc := &container.HostConfig{
		NetworkMode:  container.NetworkMode(spec.Network),
		PortBindings: nat.PortMap{},
		Privileged:   false,
		IpcMode:      container.IPCModePrivate,
		// No process in a service can gain privileges through setuid
		// binaries; a bounded number of processes stops fork bombs from
		// taking the host down with them.
		SecurityOpt: []string{"no-new-privileges"},
		// Without raw sockets a service cannot forge ARP: on a network
		// shared with other users' services (the solo network) it could
		// otherwise claim a neighbour's address and receive the traffic
		// the proxy sends to it. Ping still works (datagram ICMP sockets).
		CapDrop: []string{"NET_RAW"},
		ShmSize: spec.ShmSize,
		Resources: container.Resources{
			Memory:            spec.Memory,
			MemoryReservation: spec.MemoryReservation,
			NanoCPUs:          spec.NanoCPUs,
			PidsLimit:         &pids,
		},
	}
	if spec.Memory > 0 {
		// Without this the engine lets the container swap as much again,
		// and an out-of-memory service crawls instead of being killed.
		hc.MemorySwap = spec.Memory
	}
	for _, p := range spec.Ports {
		port := nat.Port(fmt.Sprintf("%d/%s", p.Number, protocol(p)))
		cfg.ExposedPorts[port] = struct{}{}
		hc.PortBindings[port] = []nat.PortBinding{{HostIP: h.bindIP}}
	}
	for _, m := range spec.Mounts {
		// A bind mount (not -v) fails when the source is missing instead of
		// letting the engine create it as root (original issue #68).
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		spec.Network: {Aliases: spec.Aliases},
	}}
	return cfg, hc, nc
}

// Stop asks the container to stop (SIGTERM), and kills it after timeout.
// A container that is gone already counts as stopped.
func (b *Backend) Stop(ctx context.Context, hostName, id string, timeout time.Duration) error {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return err
	}
	secs := int(timeout.Round(time.Second) / time.Second)
	err = classify(h.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}))
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("stop container %s on %s: %w", shortID(id), hostName, err)
	}
	return nil
}

// Remove removes a container, killing it if it runs. A container that is
// gone already is not an error.
func (b *Backend) Remove(ctx context.Context, hostName, id string) error {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return err
	}
	err = classify(h.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}))
	if err != nil && !isNotFound(err) {
		if strings.Contains(err.Error(), "already in progress") {
			return nil
		}
		return fmt.Errorf("remove container %s on %s: %w", shortID(id), hostName, err)
	}
	return nil
}

// Inspect returns one container's state. A container that does not exist
// gives an error wrapping backend.ErrNotFound.
func (b *Backend) Inspect(ctx context.Context, hostName, id string) (backend.Container, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return backend.Container{}, err
	}
	ins, err := h.cli.ContainerInspect(ctx, id)
	if err != nil {
		return backend.Container{}, fmt.Errorf("inspect container %s on %s: %w", shortID(id), hostName, classify(err))
	}
	return fromInspect(hostName, ins), nil
}

// List returns every container of this deployment, running or not, on every
// host, with the exit codes, OOM kills and times of those that are not live
// (see live). Hosts are asked in parallel. When some host cannot be asked,
// List still returns what the others have, and an error naming each failed
// host (wrapping backend.ErrHostUnreachable when the engine did not
// answer): the containers of those hosts are unknown, not gone.
func (b *Backend) List(ctx context.Context) ([]backend.Container, error) {
	results := make([][]backend.Container, len(b.hosts))
	errs := make([]error, len(b.hosts))
	var wg sync.WaitGroup
	for i, h := range b.hosts {
		wg.Go(func() { results[i], errs[i] = b.ListHost(ctx, h.cfg.Name) })
	}
	wg.Wait()
	var out []backend.Container
	for _, r := range results {
		out = append(out, r...)
	}
	return out, errors.Join(errs...)
}

// ListHost is List for one host.
//
// The engine's summary has no exit code, OOM flag or times, so containers
// that are not live (see live) are inspected for them; live ones are not,
// and have no times.
//
// Inspecting a container waits for its lock, which the engine holds while
// it starts or removes the container: a list that inspected every
// container would wait, one after the other, for every start of a burst
// (seconds), and the lifecycle loop with it.
func (b *Backend) ListHost(ctx context.Context, hostName string) ([]backend.Container, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return nil, err
	}
	sums, err := h.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: b.filter()})
	if err != nil {
		return nil, fmt.Errorf("list containers on %s: %w", hostName, classify(err))
	}
	out := make([]backend.Container, 0, len(sums))
	for _, s := range sums {
		if live(string(s.State)) {
			out = append(out, fromSummary(hostName, s))
			continue
		}
		ins, err := h.cli.ContainerInspect(ctx, s.ID)
		if err != nil {
			if err := classify(err); isNotFound(err) {
				continue // removed since the list
			} else {
				return nil, fmt.Errorf("list containers on %s: inspect %s: %w", hostName, shortID(s.ID), err)
			}
		}
		out = append(out, fromInspect(hostName, ins))
	}
	return out, nil
}

// live reports whether a container in this state is running or about to:
// its exit code means nothing yet. Every other state (exited, dead,
// removing, paused) is inspected.
func live(state string) bool {
	switch container.ContainerState(state) {
	case container.StateCreated, container.StateRunning, container.StateRestarting:
		return true
	}
	return false
}

func fromSummary(hostName string, s container.Summary) backend.Container {
	c := backend.Container{ID: s.ID, Host: hostName, Labels: s.Labels, State: string(s.State)}
	for _, n := range s.Names {
		// Links add names of the form /other/alias; the container's own
		// has a single slash.
		if n = strings.TrimPrefix(n, "/"); !strings.Contains(n, "/") {
			c.Name = n
			break
		}
	}
	return c
}

func fromInspect(hostName string, ins container.InspectResponse) backend.Container {
	c := backend.Container{
		ID:   ins.ID,
		Name: strings.TrimPrefix(ins.Name, "/"),
		Host: hostName,
	}
	if ins.Config != nil {
		c.Labels = ins.Config.Labels
	}
	if s := ins.State; s != nil {
		c.State = string(s.Status)
		c.ExitCode = s.ExitCode
		c.OOMKilled = s.OOMKilled
		c.Error = s.Error
		c.StartedAt = parseTime(s.StartedAt)
		c.FinishedAt = parseTime(s.FinishedAt)
	}
	return c
}

// parseTime reads the engine's timestamps, where "never" is year 1.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
