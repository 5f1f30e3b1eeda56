package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/zoe-analytics/zoe/backend"
)

// Steps of one service's start, as the execution page shows them. After
// the last one the service is active, and the page probes its endpoints.
const (
	StepImage    = "image"    // checking that the host has the image
	StepPulling  = "pulling"  // pulling the image onto the host
	StepStarting = "starting" // creating and starting the container
)

// Phase is where the start of one service is. Phases live in memory while
// the execution starts, like the queue's reasons: they say what happens
// now, and the events in the store keep what happened.
type Phase struct {
	Service string
	Step    string
	Image   string
	Host    string
	Pull    backend.PullProgress // while pulling
}

// Phases returns the phases of execution id's services being started, by
// service name; none when it is not starting.
func (m *Manager) Phases(id int64) []Phase {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Phase, 0, len(m.phases[id]))
	for _, p := range m.phases[id] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

func (m *Manager) setPhase(id int64, p Phase) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phases[id] == nil {
		m.phases[id] = map[string]Phase{}
	}
	m.phases[id][p.Service] = p
}

func (m *Manager) clearPhase(id int64, service string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.phases[id], service)
	if len(m.phases[id]) == 0 {
		delete(m.phases, id)
	}
}

// pullEventEvery and pullEventStep bound the progress events of one pull:
// at most one a second per service, and only when the pull moved on by
// that many percent, so a long pull leaves a short history. The live
// phase follows every report.
const (
	pullEventEvery = time.Second
	pullEventStep  = 10
)

// pullReporter returns the progress callback of the pull of one service's
// image. Reports of one pull come one after the other, from one goroutine.
func (m *Manager) pullReporter(ctx context.Context, id int64, phase Phase) func(backend.PullProgress) {
	var last time.Time
	lastPct := -1
	return func(p backend.PullProgress) {
		phase.Step, phase.Pull = StepPulling, p
		m.setPhase(id, phase)
		now := m.cfg.Now()
		switch {
		case lastPct < 0:
			m.event(ctx, id, "pulling image", fmt.Sprintf("%s: pulling %s onto %s", phase.Service, p.Image, p.Host))
		case p.Percent >= 100 || p.Percent-lastPct < pullEventStep || now.Sub(last) < pullEventEvery:
			return // the end has an event of its own: "image pulled"
		default:
			m.event(ctx, id, "pull progress", phase.Service+": "+pullText(p))
		}
		last, lastPct = now, p.Percent
	}
}

// pullText says how far a pull is: "40% (2 of 5 layers, 12.3 MiB of 30.0 MiB)".
func pullText(p backend.PullProgress) string {
	s := fmt.Sprintf("%d%% (%d of %d layers", p.Percent, p.LayersDone, p.Layers)
	if p.Size > 0 {
		s += fmt.Sprintf(", %s of %s", mib(p.Downloaded), mib(p.Size))
	}
	return s + ")"
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// pullScope is the context of an execution's pulls. Unlike the rest of a
// start, a pull may take minutes: Stop must not wait for it, nor must a
// user who terminates the execution.
type pullScope struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// beginPulls opens the pull scope of execution id, until end is called.
func (m *Manager) beginPulls(id int64) (end func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stop := func() bool { return false }
	if m.loop != nil {
		stop = context.AfterFunc(m.loop, cancel)
	}
	m.mu.Lock()
	m.pulls[id] = pullScope{ctx: ctx, cancel: cancel}
	m.mu.Unlock()
	return func() {
		stop()
		cancel()
		m.mu.Lock()
		delete(m.pulls, id)
		m.mu.Unlock()
	}
}

// pullContext is ctx, ended also when the pulls of execution id are cut
// short.
func (m *Manager) pullContext(ctx context.Context, id int64) (context.Context, context.CancelFunc) {
	m.mu.Lock()
	scope, ok := m.pulls[id]
	m.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	if !ok {
		return ctx, cancel
	}
	stop := context.AfterFunc(scope.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// cutPulls ends the pulls of execution id, if it has any.
func (m *Manager) cutPulls(id int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if scope, ok := m.pulls[id]; ok {
		scope.cancel()
	}
}

// pullsCut reports whether the pulls of execution id were cut short: by
// Stop, or because it is being terminated.
func (m *Manager) pullsCut(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	scope, ok := m.pulls[id]
	return ok && scope.ctx.Err() != nil
}
