package docker

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/zoe-analytics/zoe/backend"
)

// Reconnection back-off for a host's event stream.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Events merges the event streams of all hosts, restricted to this
// deployment's containers and to start, die, oom and destroy. Each time the
// stream of a host is established (at first, and again after the engine was
// unreachable) an event with Action "resync" for that host comes first:
// events may have been missed, so the caller should reconcile that host with
// ListHost. Die events carry the exit code and whether the kernel killed the
// container for lack of memory. The channel is closed once ctx is done.
func (b *Backend) Events(ctx context.Context) <-chan backend.Event {
	out := make(chan backend.Event, 64)
	var wg sync.WaitGroup
	for _, h := range b.hosts {
		wg.Go(func() { b.watch(ctx, h, out) })
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

// watch keeps one host's stream open until ctx ends.
func (b *Backend) watch(ctx context.Context, h *host, out chan<- backend.Event) {
	var since time.Time
	backoff := minBackoff
	down := false
	for {
		connected, err := b.stream(ctx, h, out, &since)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = minBackoff
		}
		if !down || connected {
			b.log.Warn("docker event stream lost; retrying", "host", h.cfg.Name, "err", err)
		}
		down = true
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream subscribes once and forwards events until the subscription breaks.
// connected reports whether it got as far as subscribing.
func (b *Backend) stream(ctx context.Context, h *host, out chan<- backend.Event, since *time.Time) (connected bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.ping(sctx, h); err != nil {
		return false, err
	}
	f := b.filter()
	f.Add("type", string(events.ContainerEventType))
	for _, a := range []string{backend.ActionStart, backend.ActionDie, backend.ActionOOM, backend.ActionDestroy} {
		f.Add("event", a)
	}
	opts := events.ListOptions{Filters: f}
	if !since.IsZero() {
		// Replays what the engine still holds from before the break; the
		// resync covers what it lost (it restarted, say).
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	// The client returns once the engine accepted the subscription, so
	// nothing after the resync below is missed.
	msgs, errs := h.cli.Events(sctx, opts)
	b.log.Info("docker event stream connected", "host", h.cfg.Name)
	if !send(ctx, out, backend.Event{Host: h.cfg.Name, Action: backend.ActionResync, At: time.Now()}) {
		return true, ctx.Err()
	}
	ping := time.NewTicker(b.opts.EventsPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err, ok := <-errs:
			if !ok || err == nil {
				err = io.ErrUnexpectedEOF
			}
			return true, classify(err)
		case m := <-msgs:
			at := time.Unix(0, m.TimeNano)
			if at.After(*since) {
				*since = at
			}
			if !send(ctx, out, b.event(ctx, h, m)) {
				return true, ctx.Err()
			}
		case <-ping.C:
			// A TCP engine that vanished leaves the stream hanging rather
			// than closed.
			if err := b.ping(sctx, h); err != nil {
				return true, err
			}
		}
	}
}

func (b *Backend) ping(ctx context.Context, h *host) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.CheckTimeout)
	defer cancel()
	if err := h.ready(ctx); err != nil {
		return err
	}
	if _, err := h.cli.Ping(ctx); err != nil {
		return classify(err)
	}
	return nil
}

func (b *Backend) event(ctx context.Context, h *host, m events.Message) backend.Event {
	e := backend.Event{
		Host:        h.cfg.Name,
		ContainerID: m.Actor.ID,
		Action:      string(m.Action),
		At:          time.Unix(0, m.TimeNano),
		Labels:      map[string]string{},
	}
	for k, v := range maps.All(m.Actor.Attributes) {
		if strings.HasPrefix(k, "zoe.") {
			e.Labels[k] = v
		}
	}
	if e.Action == backend.ActionDie {
		e.ExitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
		// The die event does not say why; the container's state does, as
		// long as it is still there.
		ictx, cancel := context.WithTimeout(ctx, b.opts.CheckTimeout)
		defer cancel()
		if ins, err := h.cli.ContainerInspect(ictx, m.Actor.ID); err == nil && ins.State != nil {
			e.OOMKilled = ins.State.OOMKilled
		}
	}
	return e
}

func send(ctx context.Context, out chan<- backend.Event, e backend.Event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}
