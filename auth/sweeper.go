package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ExpiredSessions is the part of the store the sweeper needs.
type ExpiredSessions interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}

// SessionSweeper deletes expired session rows now and then. Expired rows
// are already ignored when read; sweeping only keeps the table small.
type SessionSweeper struct {
	rows  ExpiredSessions
	every time.Duration
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewSessionSweeper returns a sweeper that runs every interval (default
// 1 h) once started.
func NewSessionSweeper(rows ExpiredSessions, every time.Duration, log *slog.Logger) *SessionSweeper {
	if every <= 0 {
		every = time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SessionSweeper{rows: rows, every: every, log: log, now: time.Now}
}

// Start sweeps once, then every interval until ctx ends or Stop is called.
// Starting a started sweeper does nothing.
func (s *SessionSweeper) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			s.runOnce(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}(s.done)
}

// Stop ends the loop and waits for it.
func (s *SessionSweeper) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (s *SessionSweeper) runOnce(ctx context.Context) {
	n, err := s.rows.DeleteExpiredSessions(ctx, s.now())
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("delete expired sessions", "err", err)
	case n > 0:
		s.log.Debug("expired sessions deleted", "count", n)
	}
}
