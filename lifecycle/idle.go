package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// IdleTimeouts are how long each role's executions may go unused before
// they are terminated; 0 is never.
type IdleTimeouts struct {
	Guest, User, Admin time.Duration
}

// For returns the timeout of role; unknown roles are treated as users.
func (t IdleTimeouts) For(role string) time.Duration {
	switch auth.Role(role) {
	case auth.RoleGuest:
		return t.Guest
	case auth.RoleAdmin:
		return t.Admin
	}
	return t.User
}

// EffectiveIdle combines a role's idle timeout with a ZApp's: the shorter
// wins, 0 meaning none. A ZApp can thus shorten its users' timeout (a
// costly GPU notebook) but never lengthen it past what the administrator
// set for their role: the guests' two hours hold whatever the shop says.
func EffectiveIdle(role, zapp time.Duration) time.Duration {
	switch {
	case zapp <= 0:
		return max(role, 0)
	case role <= 0:
		return zapp
	}
	return min(role, zapp)
}

// Why an execution will be stopped, as Stop.Reason says.
const (
	StopIdle    = "idle"
	StopRuntime = "run-time limit"
)

// Stop is when a running execution will be stopped and why.
type Stop struct {
	At     time.Time
	Reason string        // StopIdle or StopRuntime
	Idle   time.Duration // the execution's idle timeout, 0 for none
	// Runtime is the owner's run-time limit, 0 for none.
	Runtime time.Duration
}

// CanExtend reports whether extending can push the stop further: an idle
// deadline can be reset, the run-time limit cannot.
func (s Stop) CanExtend() bool { return s.Reason == StopIdle }

// Use is what the proxy knows of an execution: Web is false when it has
// no web endpoint (nobody browses it, so it is never idle for lack of
// requests), and Last is when its endpoints were last used.
type Use struct {
	Last time.Time
	Web  bool
}

// idleTimeout is the idle timeout of e: the one recorded at submission,
// or its owner's role's for executions recorded before Zoe recorded it
// (only those cost a read of the owner).
func (m *Manager) idleTimeout(ctx context.Context, e store.Execution) (time.Duration, error) {
	if e.IdleTimeout != nil {
		return *e.IdleTimeout, nil
	}
	owner, err := m.st.UserByID(ctx, e.UserID)
	if err != nil {
		return 0, err
	}
	return m.cfg.Idle.For(owner.Role), nil
}

// activityURLs decodes the activity URLs e was submitted with.
func activityURLs(e store.Execution) []zapp.ActivityURL {
	if len(e.Activity) == 0 {
		return nil
	}
	var urls []zapp.ActivityURL
	if err := json.Unmarshal(e.Activity, &urls); err != nil {
		return nil // written by Submit; unreadable means none
	}
	return urls
}

// lastUse is the latest sign of use of e: its start, proxy traffic, an
// extension or a service's report.
func lastUse(e store.Execution, u Use) time.Time {
	last := startedAt(e)
	if u.Last.After(last) {
		last = u.Last
	}
	if e.LastActiveAt != nil && e.LastActiveAt.After(last) {
		last = *e.LastActiveAt
	}
	return last
}

// startedAt is when e started running; its submission for the rare
// running execution recorded without a start.
func startedAt(e store.Execution) time.Time {
	if e.StartedAt != nil {
		return *e.StartedAt
	}
	return e.SubmittedAt
}

// StopOf is when running execution e, with limits l, will be stopped
// given what the proxy knows of its use; false when nothing stops it.
// The run-time limit counts from the start; the idle timeout from the
// last use, and only for executions someone uses: with a web endpoint or
// an activity URL.
func StopOf(e store.Execution, u Use, l Limits) (Stop, bool) {
	s := Stop{Idle: l.Idle, Runtime: l.Runtime}
	if e.Status != store.StatusRunning {
		return s, false
	}
	ok := false
	if l.Idle > 0 && (u.Web || len(e.Activity) > 0) {
		s.At, s.Reason, ok = lastUse(e, u).Add(l.Idle), StopIdle, true
	}
	if l.Runtime > 0 {
		if at := startedAt(e).Add(l.Runtime); !ok || !at.After(s.At) {
			s.At, s.Reason, ok = at, StopRuntime, true
		}
	}
	return s, ok
}

// Limits are what stops a running execution besides its use: its idle
// timeout and its owner's run-time limit, 0 for none.
type Limits struct {
	Idle, Runtime time.Duration
}

// LimitsOf reads the limits of execution e: the idle timeout it was
// submitted with (its owner's role's for executions recorded before Zoe
// recorded it) and its owner's quota's run-time limit. They change only
// with a write of the owner or the quota, so a caller may keep them as
// long as the store's ExecutionVersion of e stays the same.
func (m *Manager) LimitsOf(ctx context.Context, e store.Execution) (Limits, error) {
	idle, err := m.idleTimeout(ctx, e)
	if err != nil {
		return Limits{}, fmt.Errorf("limits of execution %d: %w", e.ID, err)
	}
	q, err := m.st.QuotaForUser(ctx, e.UserID)
	if err != nil {
		return Limits{}, fmt.Errorf("limits of execution %d: %w", e.ID, err)
	}
	return Limits{Idle: idle, Runtime: q.RuntimeLimit}, nil
}

// StopsAt returns when running execution e will be stopped, given what the
// proxy knows of its use; false when nothing will stop it.
func (m *Manager) StopsAt(ctx context.Context, e store.Execution, u Use) (Stop, bool, error) {
	l, err := m.LimitsOf(ctx, e)
	if err != nil {
		return Stop{}, false, err
	}
	s, ok := StopOf(e, u, l)
	return s, ok, nil
}

// ErrCannotExtend refuses an extension that could not push the stop: the
// run-time limit comes first, or nothing stops the execution for idleness.
var ErrCannotExtend = errors.New("cannot extend")

// Extend resets the idle deadline of running execution e as if it had just
// been used, and returns the new stop. The owner's run-time limit cannot
// be extended: when it comes first the extension is refused with
// ErrCannotExtend, as it is for executions never stopped for idleness. An
// execution that is not running is ErrNotActive.
func (m *Manager) Extend(ctx context.Context, e store.Execution, u Use) (Stop, error) {
	if e.Status != store.StatusRunning {
		return Stop{}, ErrNotActive
	}
	s, ok, err := m.StopsAt(ctx, e, u)
	if err != nil {
		return Stop{}, err
	}
	switch {
	case !ok || s.Idle <= 0:
		return s, fmt.Errorf("%w: it is never stopped for being idle", ErrCannotExtend)
	case !s.CanExtend():
		return s, fmt.Errorf("%w: the run-time limit of %s stops it first", ErrCannotExtend, s.Runtime)
	}
	now := m.cfg.Now()
	if err := m.st.MarkExecutionActive(ctx, e.ID, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Stop{}, ErrNotActive
		}
		return Stop{}, fmt.Errorf("extend execution %d: %w", e.ID, err)
	}
	e.LastActiveAt = &now
	s, _ = StopOf(e, u, Limits{Idle: s.Idle, Runtime: s.Runtime})
	m.event(ctx, e.ID, "extended", fmt.Sprintf("idle deadline reset; stops at %s unless used (%s)", s.At.UTC().Format("2006-01-02 15:04 UTC"), s.Reason))
	return s, nil
}
