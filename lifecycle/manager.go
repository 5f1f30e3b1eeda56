// Package lifecycle is Zoe's execution service: it owns every execution
// from submission to its end. It records each decision in the store before
// acting on it, asks the pure scheduler for a plan whenever something
// changes (a submission, a termination, a container event, a host going up
// or down), applies the plan through the back-end, and re-synchronises with
// the containers that really exist, so that a crash or a restart loses
// nothing.
//
// One loop makes every decision; back-end calls for different services run
// in parallel in goroutines the loop starts and waits for at shutdown.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// Backend is what the lifecycle needs from the container back-end.
type Backend interface {
	Check(ctx context.Context) []backend.HostStatus
	Status() []backend.HostStatus
	EnsureNetwork(ctx context.Context, host, name string, labels map[string]string) error
	RemoveNetwork(ctx context.Context, host, name string) error
	Networks(ctx context.Context, host string) ([]string, error)
	EnsureImage(ctx context.Context, host, image string, progress func(backend.PullProgress)) (pulled bool, err error)
	PoolNetworks(ctx context.Context, host string) ([]backend.Network, error)
	Start(ctx context.Context, host string, spec backend.ServiceSpec) (backend.Started, error)
	Remove(ctx context.Context, host, containerID string) error
	Stop(ctx context.Context, host, containerID string, timeout time.Duration) error
	Logs(ctx context.Context, host, containerID string, tail int, follow, timestamps bool) (io.ReadCloser, error)
	List(ctx context.Context) ([]backend.Container, error)
	Events(ctx context.Context) <-chan backend.Event
}

// Volume is a host directory mounted in every container.
type Volume struct {
	HostPath, Name string
	ReadOnly       bool
}

// Config is the lifecycle's part of Zoe's configuration.
type Config struct {
	Deployment string
	// Workspaces is the directory holding one workspace per user
	// (<workspace-base-path>/<workspace-deployment-path>).
	Workspaces        string
	AdditionalVolumes []Volume
	FSGroupID         int
	// ProxyPrefix is the path under which the portal proxies services;
	// {proxy_path} is <ProxyPrefix>/<execution>/<instance>/<port>/.
	ProxyPrefix string
	// Network is the Docker network shared by executions that span several
	// hosts; one-host executions get a bridge of their own.
	Network string
	// NetworkPool is how many ready bridge networks to keep per host for
	// one-host executions to claim, instead of creating their own at
	// launch; 0 disables the pool.
	NetworkPool int
	// SoloNetwork puts the executions of a single container on one
	// bridge per host, made once, whose containers cannot reach each
	// other (backend.LabelIsolated), instead of a bridge each: they need
	// no network of their own to talk to nobody, and a burst of them
	// (a class opening its notebooks) then waits on no network creation.
	SoloNetwork bool
	// Resync is how often hosts are checked and containers reconciled when
	// nothing else triggers a pass.
	Resync time.Duration
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LogDir keeps the output of every service after its container is
	// removed (<LogDir>/<execution>/<service>.log); empty keeps none.
	LogDir string
	// StopTimeout is how long a service may take to stop after SIGTERM
	// before it is killed; 0 means 10 s.
	StopTimeout time.Duration
	// Idle is each role's idle timeout, recorded on every execution at
	// submission (shortened by its ZApp's, see EffectiveIdle).
	Idle IdleTimeouts
	// OnLaunch, when set, is told how long each execution took from
	// submission to running.
	OnLaunch func(time.Duration)
}

// Manager runs the lifecycle loop.
type Manager struct {
	st  *store.Store
	be  Backend
	sch *scheduler.Scheduler
	cfg Config
	log *slog.Logger

	wake   chan struct{}
	loop   context.Context // ends when Stop is called
	cancel context.CancelFunc
	done   chan struct{}
	work   sync.WaitGroup // back-end calls started by the loop

	mu       sync.Mutex
	inflight map[int64]bool // executions whose containers are being started or stopped
	starting int            // of those, how many are being started
	bypass   map[int64]int
	waits    map[int64]scheduler.Wait
	phases   map[int64]map[string]Phase // by execution, then service
	pulls    map[int64]pullScope
	counters Counters
	hosts    []backend.HostStatus

	pool   *pool           // ready networks
	soloMu sync.Mutex      // one EnsureNetwork of the solo network at a time
	solo   map[string]bool // hosts whose solo network is known to exist
}

// Counters count what happened since start, for the portal and the API.
type Counters struct {
	Passes, Submitted, Started, Terminated, Failed, Died int64
	LastPass                                             time.Time
	LastPassDuration                                     time.Duration
}

// New returns a Manager; Start runs it.
func New(st *store.Store, be Backend, sch *scheduler.Scheduler, cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 10 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.ProxyPrefix == "" {
		cfg.ProxyPrefix = "/proxy"
	}
	return &Manager{
		st: st, be: be, sch: sch, cfg: cfg, log: cfg.Logger,
		wake:     make(chan struct{}, 1),
		inflight: map[int64]bool{},
		bypass:   map[int64]int{},
		waits:    map[int64]scheduler.Wait{},
		phases:   map[int64]map[string]Phase{},
		pulls:    map[int64]pullScope{},
		pool:     newPool(cfg.NetworkPool),
		solo:     map[string]bool{},
	}
}

// Trigger asks for a pass as soon as possible. Triggers coalesce: a burst
// of events costs one pass.
func (m *Manager) Trigger() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Start recovers from whatever a previous process left behind, then runs
// the loop until Stop.
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	m.loop = ctx
	m.done = make(chan struct{})
	m.hosts = m.be.Check(ctx)
	if err := m.recover(ctx); err != nil {
		m.log.Error("recovering executions after restart", "err", err)
	}
	m.adoptPool(ctx)
	events := m.be.Events(ctx)
	go func() {
		defer close(m.done)
		ticker := time.NewTicker(m.cfg.Resync)
		defer ticker.Stop()
		m.Trigger()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				m.log.Debug("container event", "host", ev.Host, "action", ev.Action, "container", ev.ContainerID)
				if m.ownWork(ev) {
					continue
				}
				m.Trigger()
			case <-ticker.C:
				m.checkHosts(ctx)
				m.sweepNetworks(ctx)
				m.Trigger()
			case <-m.wake:
			}
			if ctx.Err() != nil {
				return
			}
			if err := m.runOnce(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("lifecycle pass failed", "err", err)
			}
			m.fillPool(ctx)
		}
	}()
}

// ownWork reports whether ev is about a container of an execution whose
// containers this loop is starting or removing right now. A pass would
// leave that execution alone (it is held), and the end of the work
// triggers one anyway (release); a burst of launches would otherwise cost
// the engine a container list for nearly every start it reports.
func (m *Manager) ownWork(ev backend.Event) bool {
	if ev.Action == backend.ActionResync {
		return false
	}
	id, err := strconv.ParseInt(ev.Labels[backend.LabelExecution], 10, 64)
	if err != nil {
		return false
	}
	return m.busy(id)
}

// Stop ends the loop and waits for the back-end calls it started.
func (m *Manager) Stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.work.Wait()
}

func (m *Manager) checkHosts(ctx context.Context) {
	hosts := m.be.Check(ctx)
	m.mu.Lock()
	m.hosts = hosts
	m.mu.Unlock()
}

// Hosts returns the hosts as last checked.
func (m *Manager) Hosts() []backend.HostStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]backend.HostStatus(nil), m.hosts...)
}

// Counters returns what happened since start.
func (m *Manager) Counters() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters
}

// Wait returns why execution id is waiting, from the last pass.
func (m *Manager) Wait(id int64) (scheduler.Wait, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.waits[id]
	return w, ok
}

// Waits returns every waiting execution's reason from the last pass, by
// queue position.
func (m *Manager) Waits() []scheduler.Wait {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]scheduler.Wait, 0, len(m.waits))
	for _, w := range m.waits {
		out = append(out, w)
	}
	sortWaits(out)
	return out
}

// ErrNotActive is returned when terminating an execution that has ended.
var ErrNotActive = errors.New("execution is not active")

// Terminate asks for execution id to end, with reason recorded as its
// message. Queued executions end at once; others are cleaned up by the
// loop. Terminating an execution that is already ending is not an error.
func (m *Manager) Terminate(ctx context.Context, id int64, reason string) error {
	now := m.cfg.Now()
	err := m.st.SetExecutionStatus(ctx, id, []string{store.StatusSubmitted, store.StatusQueued}, store.StatusTerminated, reason, now)
	if err == nil {
		m.event(ctx, id, "terminated", reason)
		m.countTerminated()
		m.Trigger()
		return nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("terminate execution %d: %w", id, err)
	}
	err = m.st.SetExecutionStatus(ctx, id, []string{store.StatusStarting, store.StatusRunning}, store.StatusCleaningUp, reason, now)
	switch {
	case err == nil:
		m.event(ctx, id, "cleaning up", reason)
		m.cutPulls(id)
		m.Trigger()
		return nil
	case errors.Is(err, store.ErrConflict):
		e, gerr := m.st.Execution(ctx, id)
		if gerr != nil {
			return fmt.Errorf("terminate execution %d: %w", id, gerr)
		}
		if e.Status == store.StatusCleaningUp {
			return nil
		}
		return ErrNotActive
	default:
		return fmt.Errorf("terminate execution %d: %w", id, err)
	}
}

func (m *Manager) countTerminated() {
	m.mu.Lock()
	m.counters.Terminated++
	m.mu.Unlock()
}

// event records a line of an execution's history; a failure to record it
// is logged, not fatal.
func (m *Manager) event(ctx context.Context, id int64, kind, msg string) {
	if err := m.st.AddEvent(ctx, store.Event{ExecutionID: id, At: m.cfg.Now(), Kind: kind, Message: msg}); err != nil {
		m.log.Warn("recording execution event", "execution", id, "err", err)
	}
}

func (m *Manager) description(e store.Execution) (*zapp.Description, error) {
	// The description was validated, with the trust its origin deserved,
	// when it was stored; decoding it back must not judge it again, or a
	// later, stricter rule would break executions already running.
	var d zapp.Description
	if err := json.Unmarshal(e.Description, &d); err != nil {
		return nil, fmt.Errorf("stored description of execution %d: %w", e.ID, err)
	}
	return &d, nil
}
