package main

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/backend/docker"
)

// topUp names the pool's background network creations, which may overlap
// a launch but are not part of it.
const topUp = "EnsureNetwork of the pool's top-up (background, after a launch)"

// listCall names the container list of every pass of the loop.
const listCall = "List (in passes)"

// timedBackend is the docker back-end with a stopwatch on every call the
// lifecycle makes, so that a launch can be broken down by call.
type timedBackend struct {
	*docker.Backend

	mu    sync.Mutex
	on    bool
	spans []span
	gen   int // counts breakdowns, so that a call begun in one never ends in the next
	last  backend.ServiceSpec
}

type span struct {
	name       string
	key        string // Start: the execution's label
	start, end time.Time
}

// record starts a new breakdown.
func (b *timedBackend) record() {
	b.mu.Lock()
	b.on, b.spans = true, nil
	b.gen++
	b.mu.Unlock()
}

// stop ends the breakdown and returns, by call, the time spent in calls
// that finished by until, and how many there were.
func (b *timedBackend) stop(until time.Time) map[string]callTime {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.on = false
	out := map[string]callTime{}
	for _, s := range b.spans {
		if s.end.IsZero() || s.end.After(until) {
			continue
		}
		c := out[s.name]
		c.total += s.end.Sub(s.start)
		c.count++
		out[s.name] = c
	}
	return out
}

type callTime struct {
	total time.Duration
	count int
}

// time records a call of that name from now until the returned function
// is called; a call still running has a zero end.
func (b *timedBackend) time(name string) func() { return b.timeKey(name, "") }

// timeKey is time with a key that ended finds the call by.
func (b *timedBackend) timeKey(name, key string) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.on {
		return func() {}
	}
	b.spans = append(b.spans, span{name: name, key: key, start: time.Now()})
	i, gen := len(b.spans)-1, b.gen
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.gen == gen {
			b.spans[i].end = time.Now()
		}
	}
}

// within is how many calls of that name began before until, in the
// breakdown being recorded, and the time they took up to until, added up
// (a call still running at until counts up to until).
func (b *timedBackend) within(name string, until time.Time) callTime {
	b.mu.Lock()
	defer b.mu.Unlock()
	var c callTime
	for _, s := range b.spans {
		if s.name != name || !s.start.Before(until) {
			continue
		}
		end := s.end
		if end.IsZero() || end.After(until) {
			end = until
		}
		c.count++
		c.total += end.Sub(s.start)
	}
	return c
}

func (b *timedBackend) Check(ctx context.Context) []backend.HostStatus {
	defer b.time("Check")()
	return b.Backend.Check(ctx)
}

func (b *timedBackend) EnsureNetwork(ctx context.Context, host, name string, labels map[string]string) error {
	if labels[backend.LabelPool] == backend.PoolReady {
		defer b.time(topUp)()
	} else {
		defer b.time("EnsureNetwork")()
	}
	return b.Backend.EnsureNetwork(ctx, host, name, labels)
}

func (b *timedBackend) RemoveNetwork(ctx context.Context, host, name string) error {
	defer b.time("RemoveNetwork")()
	return b.Backend.RemoveNetwork(ctx, host, name)
}

// startCall names Start in the breakdown.
const startCall = "Start (create, start, inspect)"

// lastBegin is when the last call of that name began, in the breakdown
// being recorded.
func (b *timedBackend) lastBegin(name string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	var last time.Time
	for _, s := range b.spans {
		if s.name == name && s.start.After(last) {
			last = s.start
		}
	}
	return last
}

func (b *timedBackend) EnsureImage(ctx context.Context, host, image string, progress func(backend.PullProgress)) (bool, error) {
	defer b.time("EnsureImage (image inspect)")()
	return b.Backend.EnsureImage(ctx, host, image, progress)
}

func (b *timedBackend) Start(ctx context.Context, host string, spec backend.ServiceSpec) (backend.Started, error) {
	defer b.timeKey(startCall, spec.Labels[backend.LabelExecution])()
	b.mu.Lock()
	b.last = spec
	b.mu.Unlock()
	return b.Backend.Start(ctx, host, spec)
}

// ended is when the last call of that name and key ended, in the
// breakdown being recorded; zero if none did.
func (b *timedBackend) ended(name, key string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	var last time.Time
	for _, s := range b.spans {
		if s.name == name && s.key == key && s.end.After(last) {
			last = s.end
		}
	}
	return last
}

// lastSpec is the service the lifecycle last asked the back-end to start.
func (b *timedBackend) lastSpec() backend.ServiceSpec {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *timedBackend) Remove(ctx context.Context, host, id string) error {
	defer b.time("Remove")()
	return b.Backend.Remove(ctx, host, id)
}

func (b *timedBackend) Stop(ctx context.Context, host, id string, timeout time.Duration) error {
	defer b.time("Stop")()
	return b.Backend.Stop(ctx, host, id, timeout)
}

func (b *timedBackend) Logs(ctx context.Context, host, id string, tail int, follow, timestamps bool) (io.ReadCloser, error) {
	defer b.time("Logs")()
	return b.Backend.Logs(ctx, host, id, tail, follow, timestamps)
}

func (b *timedBackend) List(ctx context.Context) ([]backend.Container, error) {
	defer b.time(listCall)()
	return b.Backend.List(ctx)
}
