package handlers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// activity is when each execution's proxied endpoints last saw a request
// or WebSocket traffic. Every proxied request writes it, so it is a map of
// atomics that needs no lock once an execution has an entry.
type activity struct {
	last sync.Map // int64 → *atomic.Int64 (unix nanoseconds)
}

func (a *activity) touch(execution int64, now time.Time) {
	v, ok := a.last.Load(execution)
	if !ok {
		v, _ = a.last.LoadOrStore(execution, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(now.UnixNano())
}

func (a *activity) get(execution int64) (time.Time, bool) {
	v, ok := a.last.Load(execution)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, v.(*atomic.Int64).Load()), true
}

// ProxyActivity returns when execution id's services last saw traffic
// through the proxy, and false when they saw none since this process
// started (activity is kept in memory only).
func (s *Server) ProxyActivity(id int64) (time.Time, bool) {
	return s.px.activity.get(id)
}

// IdleExecutions returns the active executions that have a web endpoint and
// whose endpoints saw no traffic through the proxy for idle at now. An
// execution counts as active from when it started running, or from when
// this process started if that is later, so that a restart of Zoe never
// culls what users were using a moment before. Executions without web
// endpoints (batch jobs) are never idle: nobody browses them.
func (s *Server) IdleExecutions(ctx context.Context, idle time.Duration, now time.Time) ([]int64, error) {
	if idle <= 0 {
		return nil, nil
	}
	active, err := s.store.ActiveExecutions(ctx)
	if err != nil {
		return nil, fmt.Errorf("idle executions: %w", err)
	}
	var ids []int64
	live := make(map[int64]bool, len(active))
	for _, e := range active {
		live[e.ID] = true
		if e.Status != store.StatusRunning || e.StartedAt == nil || !hasWebPort(e.Services) {
			continue
		}
		last := *e.StartedAt
		if s.started.After(last) {
			last = s.started
		}
		if t, ok := s.px.activity.get(e.ID); ok && t.After(last) {
			last = t
		}
		if now.Sub(last) >= idle {
			ids = append(ids, e.ID)
		}
	}
	s.px.activity.forgetAllBut(live)
	return ids, nil
}

func hasWebPort(services []store.Service) bool {
	for _, svc := range services {
		for _, p := range svc.Ports {
			if isWebPort(p) {
				return true
			}
		}
	}
	return false
}

// forgetAllBut drops the activity of executions that ended, to bound memory.
func (a *activity) forgetAllBut(live map[int64]bool) {
	a.last.Range(func(k, _ any) bool {
		if !live[k.(int64)] {
			a.last.Delete(k)
		}
		return true
	})
}
