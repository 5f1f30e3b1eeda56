package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// IdleFunc lists the running executions whose web endpoints saw no
// traffic for idle (the proxy knows).
type IdleFunc func(ctx context.Context, idle time.Duration, now time.Time) ([]int64, error)

// Culler terminates executions nobody used for a while: guests after
// GuestIdle, everyone else after Idle (0 = never).
type Culler struct {
	m               *Manager
	idle            IdleFunc
	guestIdle, user time.Duration
	every           time.Duration
	log             *slog.Logger
	cancel          context.CancelFunc
	done            chan struct{}
}

// NewCuller returns a culler checking every interval.
func NewCuller(m *Manager, idle IdleFunc, guestIdle, userIdle, every time.Duration) *Culler {
	if every <= 0 {
		every = 30 * time.Second
	}
	return &Culler{m: m, idle: idle, guestIdle: guestIdle, user: userIdle, every: every, log: m.log}
}

// Start runs the culler until Stop.
func (c *Culler) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.runOnce(ctx); err != nil && ctx.Err() == nil {
					c.log.Warn("idle culling", "err", err)
				}
			}
		}
	}()
}

// Stop ends the culler and waits for it.
func (c *Culler) Stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

func (c *Culler) runOnce(ctx context.Context) error {
	now := c.m.cfg.Now()
	for _, rule := range []struct {
		idle  time.Duration
		guest bool
	}{{c.guestIdle, true}, {c.user, false}} {
		if rule.idle <= 0 {
			continue
		}
		ids, err := c.idle(ctx, rule.idle, now)
		if err != nil {
			return err
		}
		for _, id := range ids {
			e, err := c.m.st.Execution(ctx, id)
			if err != nil {
				continue
			}
			owner, err := c.m.st.UserByID(ctx, e.UserID)
			if err != nil || (owner.Role == "guest") != rule.guest {
				continue
			}
			reason := fmt.Sprintf("idle for %s: no request reached its web interface", rule.idle)
			if err := c.m.Terminate(ctx, id, reason); err != nil && err != ErrNotActive {
				c.log.Warn("terminating idle execution", "execution", id, "err", err)
			}
		}
	}
	return nil
}
