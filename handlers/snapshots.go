package handlers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/store"
)

// Every open execution page polls its status fragment every two seconds,
// so the fragment is Zoe's most frequent request. What it shows from the
// store changes only when this process writes it (Zoe's lifecycle is the
// only writer of executions and services), so the fragment reads the
// store once per change instead of once per poll: a snapshot is kept
// while the store's ExecutionVersion stays the same. The lifetime bounds
// what a write this process cannot see (another process, SQL by hand)
// leaves on screen.
const (
	snapshotLifetime   = 10 * time.Second
	snapshotMaxEntries = 4096
)

// executionSnapshot is what the status of an execution shows that lives
// in the store: the execution, its services and, while it runs, its
// limits. Snapshots are shared between requests: read them, never change
// them.
type executionSnapshot struct {
	e      store.Execution
	svcs   []store.Service
	limits *lifecycle.Limits // nil unless running under a lifecycle
}

type snapshotEntry struct {
	v    store.Version
	at   time.Time
	snap executionSnapshot
}

type snapshots struct {
	lifetime time.Duration // 0: never reuse (benchmarks of the reads)
	mu       sync.Mutex
	entries  map[int64]snapshotEntry
}

func newSnapshots() *snapshots {
	return &snapshots{lifetime: snapshotLifetime, entries: make(map[int64]snapshotEntry)}
}

func (c *snapshots) get(id int64, v store.Version, now time.Time) (executionSnapshot, bool) {
	c.mu.Lock()
	en, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || en.v != v || now.Sub(en.at) >= c.lifetime {
		return executionSnapshot{}, false
	}
	return en.snap, true
}

func (c *snapshots) put(id int64, v store.Version, now time.Time, snap executionSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= snapshotMaxEntries {
		for k, en := range c.entries {
			if now.Sub(en.at) >= c.lifetime || len(c.entries) >= snapshotMaxEntries/2 {
				delete(c.entries, k)
			}
		}
	}
	c.entries[id] = snapshotEntry{v: v, at: now, snap: snap}
}

// snapshot returns execution id's snapshot, from the cache while the
// store has not written it since.
func (s *Server) snapshot(ctx context.Context, id int64) (executionSnapshot, error) {
	now := time.Now()
	// The version is read before the store: a write that lands during the
	// reads bumps it, and the copy is not reused.
	v := s.store.ExecutionVersion(id)
	if snap, ok := s.snaps.get(id, v, now); ok {
		return snap, nil
	}
	e, err := s.store.Execution(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return executionSnapshot{}, ErrNotFound
	}
	if err != nil {
		return executionSnapshot{}, err
	}
	svcs, err := s.store.ExecutionServices(ctx, id)
	if err != nil {
		return executionSnapshot{}, err
	}
	snap := executionSnapshot{e: e, svcs: svcs}
	if e.Status == store.StatusRunning && s.lc != nil {
		l, err := s.lc.LimitsOf(ctx, e)
		if err != nil {
			// The page still shows the status, without the stop; the next
			// poll asks again.
			s.log.Warn("status without its stop time", "execution", id, "err", err)
			return snap, nil
		}
		snap.limits = &l
	}
	s.snaps.put(id, v, now, snap)
	return snap, nil
}

// pathSnapshot is the snapshot of the execution named in the path, if the
// user may see it.
func (s *Server) pathSnapshot(r *http.Request) (executionSnapshot, error) {
	id, err := apiIDParam(r, "id")
	if err != nil {
		return executionSnapshot{}, err
	}
	snap, err := s.snapshot(r.Context(), id)
	if err != nil {
		return executionSnapshot{}, err
	}
	if !mayOperate(currentUser(r), snap.e) {
		return executionSnapshot{}, ErrNotFound
	}
	return snap, nil
}

// snapshotStop is when the execution of snap will be stopped; false when
// nothing will stop it (or it is not running).
func (s *Server) snapshotStop(snap executionSnapshot) (lifecycle.Stop, bool) {
	if snap.limits == nil {
		return lifecycle.Stop{}, false
	}
	return lifecycle.StopOf(snap.e, s.lastUse(snap.e.ID, snap.svcs), *snap.limits)
}
