package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// BenchmarkPortalPages serves the pages the portal benchmark loads
// (scripts/bench.sh, bench/web) in-process, without the network, so that a
// CPU profile shows where a request goes:
//
//	go test -run '^$' -bench PortalPages -cpuprofile cpu.out ./handlers/
//	go tool pprof -top handlers.test cpu.out
//
// The store is SQLite with 1,000 ended executions and one running whose
// endpoint answers (an httptest server stands for the service).
func BenchmarkPortalPages(b *testing.B) {
	ctx := context.Background()
	p := newPortal(b)
	st, srv, h, admin, desc := p.st, p.srv, p.h, p.admin, p.desc
	for i := range 1000 {
		if _, err := benchExecution(ctx, st, admin.ID, desc, i, store.StatusTerminated, 0); err != nil {
			b.Fatal(err)
		}
	}
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	b.Cleanup(service.Close)
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(service.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	running, err := benchExecution(ctx, st, admin.ID, desc, 1000, store.StatusRunning, port)
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchLogin(b, h)

	for _, p := range []struct {
		name, path string
		htmx       bool
		reads      bool // status: read the store every time
	}{
		{"shop", "/shop", false, false},
		{"executions", "/executions", false, false},
		{"status-fragment", fmt.Sprintf("/executions/%d/status", running), true, false},
		{"status-fragment-uncached", fmt.Sprintf("/executions/%d/status", running), true, true},
	} {
		b.Run(p.name, func(b *testing.B) {
			if p.reads {
				srv.snaps.lifetime = 0
				defer func() { srv.snaps.lifetime = snapshotLifetime }()
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodGet, p.path, nil)
					r.Header.Set("Cookie", cookie)
					if p.htmx {
						r.Header.Set("HX-Request", "true")
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Errorf("GET %s: got status %d, want 200", p.path, w.Code)
						return
					}
				}
			})
		})
	}
}

// portal is a portal on a fresh SQLite store with one admin, for
// benchmarks and tests that drive the handlers in-process.
type portal struct {
	st    *store.Store
	srv   *Server
	h     http.Handler
	admin store.User
	desc  []byte // a ZApp description for benchExecution
}

func newPortal(tb testing.TB) portal {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions, err := auth.NewSessions(st, auth.SessionConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(Deps{
		Logger: quiet, Store: st, Shop: shop.Open("../shop/sample", quiet), Sessions: sessions,
		Gate: auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), quiet),
	})
	admin := store.User{Username: "admin", Role: "admin", Source: "builtin", Enabled: true}
	if err := auth.CreateUser(ctx, st, &admin, "bench-password"); err != nil {
		tb.Fatal(err)
	}
	if admin, err = st.UserByName(ctx, "admin"); err != nil {
		tb.Fatal(err)
	}
	desc := []byte(`{"name":"notebook","version":3,"will_end":false,"size":1,"services":[]}`)
	return portal{st: st, srv: srv, h: srv.Routes(), admin: admin, desc: desc}
}

// benchExecution records an execution of one proxied service; a running
// one has its port published on 127.0.0.1:port.
func benchExecution(ctx context.Context, st *store.Store, owner int64, desc []byte, i int, status string, port int) (int64, error) {
	at := time.Now().Add(time.Duration(i-1000) * time.Minute).UTC()
	e := &store.Execution{Name: fmt.Sprintf("run %d", i), UserID: owner, ZappID: "jupyter", Description: desc,
		Status: store.StatusSubmitted, Size: 1, Memory: 1 << 30, MilliCores: 500, SubmittedAt: at}
	svc := store.Service{Name: "jupyter0", Group: "jupyter", Essential: true, Description: []byte(`{}`), Status: store.ServiceCreated, BackendStatus: store.BackendUndefined,
		Memory: 1 << 30, MilliCores: 500, Ports: []store.Port{{Name: "Notebook", Number: 8888, Protocol: "tcp", URLTemplate: "http://{ip_port}{proxy_path}", Proxy: true}}}
	id, err := st.CreateExecution(ctx, e, []store.Service{svc})
	if err != nil {
		return 0, err
	}
	if status == store.StatusRunning {
		for _, to := range []string{store.StatusQueued, store.StatusStarting, store.StatusRunning} {
			if err := st.SetExecutionStatus(ctx, id, nil, to, "", at); err != nil {
				return 0, fmt.Errorf("to %s: %w", to, err)
			}
		}
		ss, err := st.ExecutionServices(ctx, id)
		if err != nil {
			return 0, err
		}
		s := ss[0]
		s.Status, s.BackendStatus, s.BackendID, s.Host, s.IPAddress = store.ServiceActive, store.BackendStarted, "c0ffee", "h1", "127.0.0.1"
		s.Ports[0].ExternalIP, s.Ports[0].ExternalPort = "127.0.0.1", port
		return id, st.UpdateService(ctx, &s)
	}
	return id, st.SetExecutionStatus(ctx, id, []string{store.StatusSubmitted}, status, "", at.Add(30*time.Minute))
}

// benchLogin signs admin in through the form and returns the Cookie
// header of the session.
func benchLogin(b testing.TB, h http.Handler) string {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login", nil))
	_, after, ok := strings.Cut(w.Body.String(), `name="csrf_token" value="`)
	if !ok {
		b.Fatal("sign-in form has no CSRF token")
	}
	token, _, _ := strings.Cut(after, `"`)
	form := url.Values{"username": {"admin"}, "password": {"bench-password"}, auth.CSRFField: {token}}
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	jar := map[string]string{}
	for _, c := range w.Result().Cookies() {
		jar[c.Name] = c.Value
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther {
		b.Fatalf("sign-in: got status %d, want 303", w.Code)
	}
	for _, c := range w.Result().Cookies() {
		jar[c.Name] = c.Value
	}
	var parts []string
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}
