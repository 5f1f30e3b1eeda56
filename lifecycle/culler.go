package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// Proxy is what the culler needs from the portal's proxy, which sees
// every request to the services.
type Proxy interface {
	// LastUse returns what the proxy knows of the use of each of the
	// active executions, and forgets the executions that ended.
	LastUse(active []store.Execution) map[int64]Use
	// ServiceAddr returns the host:port the proxy dials for port of the
	// service instance of execution id.
	ServiceAddr(ctx context.Context, execution int64, instance string, port int) (string, error)
}

// Culler terminates running executions nobody used for their idle timeout
// (recorded at submission: the role's, shortened by the ZApp's). Before
// it does, it asks the ZApp's activity URLs, so that a computation that
// runs with the browser closed is not killed. The run-time limit is the
// lifecycle loop's (overRuntime).
type Culler struct {
	m      *Manager
	proxy  Proxy
	client *http.Client
	every  time.Duration
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// activityTimeout bounds one question to a service: one that does not
// answer in time has nothing to say for itself.
const activityTimeout = 10 * time.Second

// NewCuller returns a culler checking every interval.
func NewCuller(m *Manager, proxy Proxy, every time.Duration) *Culler {
	if every <= 0 {
		every = 30 * time.Second
	}
	// Services are reached directly, never through an HTTP proxy of the
	// environment, as the portal's proxy reaches them.
	client := &http.Client{Timeout: activityTimeout, Transport: &http.Transport{}}
	return &Culler{m: m, proxy: proxy, client: client, every: every, log: m.log}
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
	c.client.CloseIdleConnections()
}

func (c *Culler) runOnce(ctx context.Context) error {
	active, err := c.m.st.ActiveExecutions(ctx)
	if err != nil {
		return fmt.Errorf("idle culling: %w", err)
	}
	uses := c.proxy.LastUse(active)
	now := c.m.cfg.Now()
	for _, e := range active {
		if e.Status != store.StatusRunning {
			continue
		}
		idle, err := c.m.idleTimeout(ctx, e)
		if err != nil {
			continue
		}
		if s, ok := StopOf(e, uses[e.ID], Limits{Idle: idle}); !ok || now.Before(s.At) {
			continue
		}
		urls := activityURLs(e)
		if c.inUse(ctx, e, urls, idle, now) {
			continue
		}
		reason := fmt.Sprintf("idle for %s: no request reached its web interface", idle)
		if len(urls) > 0 {
			reason += " and its services reported no activity"
		}
		if err := c.m.Terminate(ctx, e.ID, reason); err != nil && !errors.Is(err, ErrNotActive) {
			c.log.Warn("terminating idle execution", "execution", e.ID, "err", err)
		}
	}
	return nil
}

// inUse asks the activity URLs of e whether it was used within idle of
// now. What they report is recorded, so that the execution page's "stops
// at" counts it too. A service that does not answer reports nothing.
func (c *Culler) inUse(ctx context.Context, e store.Execution, urls []zapp.ActivityURL, idle time.Duration, now time.Time) bool {
	var last time.Time
	for _, a := range urls {
		for _, svc := range e.Services {
			if svc.Group != a.Service || svc.Status != store.ServiceActive {
				continue
			}
			addr, err := c.proxy.ServiceAddr(ctx, e.ID, svc.Name, a.Port)
			if err != nil {
				continue
			}
			url := "http://" + addr + activityPath(a, ProxyPath(c.m.cfg.ProxyPrefix, e.ID, svc.Name, a.Port))
			r, err := probe(ctx, c.client, url)
			if err != nil {
				c.log.Info("asking a service whether it is in use", "execution", e.ID, "service", svc.Name, "err", err)
				continue
			}
			if r.Busy {
				r.Last = now
			}
			if r.Last.After(last) {
				last = r.Last
			}
		}
	}
	if last.IsZero() || now.Sub(last) >= idle {
		return false
	}
	if last.After(now) {
		last = now // a service's clock ahead of Zoe's must not buy time
	}
	if err := c.m.st.MarkExecutionActive(ctx, e.ID, last); err != nil {
		c.log.Warn("recording activity", "execution", e.ID, "err", err)
	}
	return true
}
