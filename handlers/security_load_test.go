package handlers

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// The load check of issue 11: pollers on their own connections read
// execution pages while executions start and stop on the engine. Every
// answer must be a 200 and latency stays bounded; the bounds leave room
// for a small machine that is busy with other work.
const (
	loadPollers    = 200
	loadExecutions = 50
	loadPollEvery  = 2 * time.Second // as the status fragment polls (hx-trigger every 2s)
	loadP99Bound   = time.Second
	loadMaxBound   = 5 * time.Second
)

// loadZApp reserves no cores, so that 50 fit on a test host at once.
const loadZApp = `{"name": "load", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "idle", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "8MiB", "max": "32MiB"}, "cores": {"min": null, "max": 0.1}},
  "ports": [], "environment": [], "volumes": [],
  "command": "sh -c 'echo up; exec sleep 3600'"}]}`

// BenchmarkPortalUnderChurn is the load check of issue 11 on the private
// engine: 200 pollers, each on its own connection, read execution pages
// every 2 s (as the status fragment polls) while alice starts 50
// executions at once and terminates each as soon as it runs. It fails on
// any answer but 200 and on latency past the bounds; run it without -race:
//
//	go test -run '^$' -bench PortalUnderChurn -benchtime 1x ./handlers/
func BenchmarkPortalUnderChurn(b *testing.B) {
	for b.Loop() {
		e := newLoadEnv(b)
		loadChurn(b, e)
	}
}

func loadChurn(b *testing.B, e *loadEnv) {
	b.Helper()
	var (
		mu  sync.Mutex
		ids []int64
	)
	known := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ids)
	}

	type sample struct {
		d      time.Duration
		status int
		err    error
		path   string
	}
	samples := make(chan sample, 1<<16)
	ctx, stop := context.WithCancel(context.Background())
	var pollers sync.WaitGroup
	for i := range loadPollers {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			who := "alice"
			if i%4 == 0 {
				who = "admin"
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			// Spread the first polls over a period, as browsers opening
			// pages at different times would.
			tick := time.NewTimer(time.Duration(rand.Int64N(int64(loadPollEvery))))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				tick.Reset(loadPollEvery)
				path := "/executions"
				hx := false
				if xs := known(); len(xs) > 0 {
					id := xs[rand.IntN(len(xs))]
					switch n % 3 {
					case 0:
						path = fmt.Sprintf("/executions/%d", id)
					default:
						path, hx = fmt.Sprintf("/executions/%d/status", id), true
					}
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+path, nil)
				if err != nil {
					samples <- sample{err: err, path: path}
					return
				}
				req.Header.Set("Cookie", e.cookies[who])
				if hx {
					req.Header.Set("HX-Request", "true")
				}
				start := time.Now()
				res, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						samples <- sample{err: err, path: path}
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				samples <- sample{d: time.Since(start), status: res.StatusCode, path: path}
			}
		}()
	}

	// The churn: alice starts the executions all at once, each is
	// terminated once it runs.
	churnStart := time.Now()
	var churn sync.WaitGroup
	sem := make(chan struct{}, loadExecutions)
	errs := make(chan error, loadExecutions)
	for i := range loadExecutions {
		churn.Add(1)
		go func() {
			defer churn.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			status, body, err := e.api(http.MethodPost, "/api/v1/executions", fmt.Sprintf(`{"name": "load-%d", "description": %s}`, i, loadZApp))
			if err != nil || status != http.StatusCreated {
				errs <- fmt.Errorf("start %d: got %d %v (%s)", i, status, err, body)
				return
			}
			var x struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(body, &x); err != nil {
				errs <- fmt.Errorf("start %d: %w", i, err)
				return
			}
			mu.Lock()
			ids = append(ids, x.ID)
			mu.Unlock()
			if err := loadWait(e, x.ID, store.StatusRunning); err != nil {
				errs <- err
				return
			}
			if status, body, err := e.api(http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/terminate", x.ID), ""); err != nil || status != http.StatusAccepted {
				errs <- fmt.Errorf("terminate %d: got %d %v (%s)", x.ID, status, err, body)
				return
			}
			if err := loadWait(e, x.ID, store.StatusTerminated); err != nil {
				errs <- err
			}
		}()
	}
	churn.Wait()
	churnTime := time.Since(churnStart)
	stop()
	pollers.Wait()
	close(samples)
	close(errs)
	for err := range errs {
		b.Error(err)
	}

	var lat []time.Duration
	bad := map[string]int{}
	for s := range samples {
		switch {
		case s.err != nil:
			bad[fmt.Sprintf("%s: %v", s.path, s.err)]++
		case s.status != http.StatusOK:
			bad[fmt.Sprintf("%s: %d", s.path, s.status)]++
		default:
			lat = append(lat, s.d)
		}
	}
	for what, n := range bad {
		b.Errorf("%d× %s, want 200", n, what)
	}
	if len(lat) < loadPollers {
		b.Fatalf("got %d polls, want at least one per poller", len(lat))
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.Logf("%d pollers, %d executions started and terminated in %s: %d polls (%.0f/s), latency p50 %s, p95 %s, p99 %s, max %s",
		loadPollers, loadExecutions, churnTime.Round(time.Millisecond), len(lat), float64(len(lat))/churnTime.Seconds(),
		q(0.50).Round(time.Microsecond), q(0.95).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(q(0.50)), "p50-ms")
	b.ReportMetric(ms(q(0.99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(churnTime.Seconds(), "churn-s")
	if p99 := q(0.99); p99 > loadP99Bound {
		b.Errorf("p99 latency: got %s, want at most %s", p99, loadP99Bound)
	}
	if m := lat[len(lat)-1]; m > loadMaxBound {
		b.Errorf("max latency: got %s, want at most %s", m, loadMaxBound)
	}
	xs, _, err := e.st.ListExecutions(context.Background(), store.ExecutionFilter{Statuses: []string{store.StatusTerminated}})
	if err != nil {
		b.Fatal(err)
	}
	if got := len(xs); got != loadExecutions {
		b.Errorf("terminated executions: got %d, want %d", got, loadExecutions)
	}
}

// loadWait is waitStatus without t.Fatal, for goroutines.
func loadWait(e *loadEnv, id int64, want string) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		x, err := e.st.Execution(context.Background(), id)
		if err != nil {
			return fmt.Errorf("execution %d: %w", id, err)
		}
		if x.Status == want {
			return nil
		}
		if !store.IsActive(x.Status) || time.Now().After(deadline) {
			return fmt.Errorf("execution %d: got status %q (%s), want %q", id, x.Status, x.ErrorMessage, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// loadEnv is a Zoe behind an httptest server on the private engine, for
// benchmarks (newPortalEnv needs a *testing.T): the accounts alice and
// admin, signed in, and alice's API token.
type loadEnv struct {
	st      *store.Store
	ts      *httptest.Server
	token   string            // alice's
	cookies map[string]string // username → Cookie header of a session
}

func newLoadEnv(tb testing.TB) *loadEnv {
	tb.Helper()
	addr := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if addr == "" {
		tb.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test`")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	dep := "load" + hex.EncodeToString(b)
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: addr, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	lc := lifecycle.New(st, be, sch, lifecycle.Config{Deployment: dep, Workspaces: tb.TempDir(), Resync: time.Second, Logger: log})
	sessions, err := auth.NewSessions(st, auth.SessionConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(Deps{
		Logger: log, Version: "test", Deployment: dep, Store: st, Shop: shop.Open(tb.TempDir(), log), Lifecycle: lc, Sessions: sessions,
		Gate: auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), log),
		Logs: be,
	})
	lc.Start(ctx)
	e := &loadEnv{st: st, ts: httptest.NewServer(srv.Routes()), cookies: map[string]string{}}
	tb.Cleanup(func() {
		e.ts.CloseClientConnections()
		e.ts.Close()
		lc.Stop()
		cs, _ := be.List(context.Background())
		for _, c := range cs {
			_ = be.Remove(context.Background(), c.Host, c.ID)
		}
		_ = st.Close()
	})
	for _, u := range []store.User{{Username: "alice", Role: "user"}, {Username: "admin", Role: "admin"}} {
		u.Source, u.PasswordHash, u.Enabled = auth.SourceBuiltin, portalPasswordHash(), true
		if _, err := st.CreateUser(ctx, &u); err != nil {
			tb.Fatal(err)
		}
		if u.Username == "alice" {
			secret, hash := auth.NewToken()
			if _, err := st.CreateToken(ctx, &store.Token{UserID: u.ID, Name: "load", Hash: hash}); err != nil {
				tb.Fatal(err)
			}
			e.token = secret
		}
		e.cookies[u.Username] = loadSignIn(tb, e.ts.URL, u.Username)
	}
	return e
}

// loadSignIn signs user in through the form and returns the Cookie
// header of the session.
func loadSignIn(tb testing.TB, base, user string) string {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		tb.Fatal(err)
	}
	token := doc.Find(`input[name="csrf_token"]`).AttrOr("value", "")
	res, err = c.PostForm(base+"/login", url.Values{"username": {user}, "password": {portalPassword}, auth.CSRFField: {token}})
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		tb.Fatalf("sign in as %s: got %d, want 303", user, res.StatusCode)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// api calls the JSON API as alice.
func (e *loadEnv) api(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.ts.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return res.StatusCode, data, err
}
