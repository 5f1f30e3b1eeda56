package handlers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoe-analytics/zoe/lifecycle"
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

// LastUse tells the idle culler what the proxy knows of the use of each of
// the active executions (lifecycle.Proxy), and forgets the activity of the
// executions that ended, to bound memory. An execution counts as used when
// this process started, so that a restart of Zoe never culls what users
// were using a moment before. Executions without web endpoints (batch
// jobs) have Web false: nobody browses them.
func (s *Server) LastUse(active []store.Execution) map[int64]lifecycle.Use {
	uses := make(map[int64]lifecycle.Use, len(active))
	live := make(map[int64]bool, len(active))
	for _, e := range active {
		live[e.ID] = true
		uses[e.ID] = s.lastUse(e.ID, e.Services)
	}
	s.px.activity.forgetAllBut(live)
	return uses
}

// lastUse is what the proxy knows of the use of execution id, whose
// services are services.
func (s *Server) lastUse(id int64, services []store.Service) lifecycle.Use {
	u := lifecycle.Use{Last: s.started, Web: hasWebPort(services)}
	if t, ok := s.px.activity.get(id); ok && t.After(u.Last) {
		u.Last = t
	}
	return u
}

// ServiceAddr returns the address the proxy dials for port of the service
// instance of execution id, for the culler's activity URLs: the same
// route, so they ask the very process users reach.
func (s *Server) ServiceAddr(ctx context.Context, execution int64, instance string, port int) (string, error) {
	t, err := s.lookupTarget(ctx, routeKey{execution: execution, service: instance, port: port})
	if err != nil {
		return "", fmt.Errorf("address of %s:%d of execution %d: %w", instance, port, execution, err)
	}
	return t.addr, nil
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
