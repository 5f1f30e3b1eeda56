// Package load is the load generator of Zoe's benchmarks: a fixed number
// of workers run one operation in a loop until a request count or a time
// limit is reached, whichever comes first, and the latencies are summarised.
// Every run stops by itself.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config bounds one run.
type Config struct {
	// Workers run the operation concurrently, each on its own connection
	// when the operation uses its own client.
	Workers int
	// Requests stops the run after this many operations in all; 0 means
	// only Duration stops it.
	Requests int
	// Duration stops the run after this long.
	Duration time.Duration
	// Warmup operations per worker are run first and not measured.
	Warmup int
}

// Op is one operation; worker is 0..Workers-1, so that an operation can
// keep state (a connection, a client) per worker.
type Op func(ctx context.Context, worker int) error

// Result is what one run measured.
type Result struct {
	Ops      int
	Errors   int
	FirstErr error
	Elapsed  time.Duration
	Latency  Summary
}

// PerSecond is the throughput of the run.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Run runs op with cfg.Workers workers until cfg.Requests operations were
// started or cfg.Duration passed, then waits for the operations under way.
func Run(ctx context.Context, cfg Config, op Op) Result {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	for w := range cfg.Workers {
		for range cfg.Warmup {
			_ = op(ctx, w)
		}
	}
	// The time limit stops workers from starting operations; those under
	// way finish, so that servers do not see clients hang up mid-request.
	deadline := time.Now().Add(cfg.Duration)
	var (
		started  atomic.Int64
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	begin := time.Now()
	for w := range cfg.Workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			bad := 0
			var first error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if cfg.Requests > 0 && started.Add(1) > int64(cfg.Requests) {
					break
				}
				t0 := time.Now()
				err := op(ctx, w)
				d := time.Since(t0)
				if err != nil {
					bad++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			errs += bad
			if firstErr == nil {
				firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return Result{Ops: len(all), Errors: errs, FirstErr: firstErr, Elapsed: time.Since(begin), Latency: Summarise(all)}
}

// Summary is the spread of a set of durations.
type Summary struct {
	N                                 int
	Min, P25, P50, P75, P90, P99, Max time.Duration
}

// Summarise sorts ds (in place) and returns its spread.
func Summarise(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		i := int(p*float64(len(ds)-1) + 0.5)
		return ds[i]
	}
	return Summary{N: len(ds), Min: ds[0], P25: q(0.25), P50: q(0.5), P75: q(0.75), P90: q(0.90), P99: q(0.99), Max: ds[len(ds)-1]}
}

// Spread is "min / p25 / p75 / max" in milliseconds.
func (s Summary) Spread() string {
	return fmt.Sprintf("%s / %s / %s / %s", Ms(s.Min), Ms(s.P25), Ms(s.P75), Ms(s.Max))
}

// Ms writes d in milliseconds with a precision that suits its size.
func Ms(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}

// Ratio writes a/b as "1.23×", or "n/a" when b is zero.
func Ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Clients returns n HTTP clients, each with a transport of its own that
// keeps one connection alive: worker i of a run uses client i, so that a
// run at concurrency n holds n keep-alive connections. Redirects are not
// followed; cookies, when given, are sent on every request.
func Clients(n int) []*http.Client {
	cs := make([]*http.Client, n)
	for i := range cs {
		cs[i] = &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 1,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		}
	}
	return cs
}

// ErrStatus is returned by Get for an unexpected status.
var ErrStatus = errors.New("unexpected status")

// Get sends a GET of url with header through c, reads the whole body and
// checks the status.
func Get(ctx context.Context, c *http.Client, url string, header http.Header, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%w: got %d, want %d (%s)", ErrStatus, res.StatusCode, want, url)
	}
	return nil
}
