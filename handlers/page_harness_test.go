package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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

// portalEnv is a real Zoe behind an httptest server for the page tests:
// a SQLite store, a shop of busybox ZApps, the private Docker engine and
// the lifecycle loop, with the accounts admin, alice, bob (users) and gus
// (a guest).
type portalEnv struct {
	t     *testing.T
	st    *store.Store
	srv   *Server
	ts    *httptest.Server
	users map[string]store.User
}

const portalPassword = "portal-password-1"

var portalPasswordHash = sync.OnceValue(func() string {
	h, err := auth.HashPassword(portalPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// portalXSS is what the tests put wherever a person can write text.
const portalXSS = `<script>alert("zoe")</script>`

// The test shop: "web" (guests may start it; a greeting parameter, a
// server count slider, a proxied httpd and a 30-minute idle timeout),
// "admin-only" and "fails", which exits at once.
const portalManifest = `{"version": 1, "zapps": [
 {"category": "Tests", "name": "Web <script>alert(\"zoe\")</script>", "description": "web.json", "readable_descr": "README.md", "logo": "logo.svg", "guest_access": true, "idle_timeout": "30m",
  "parameters": [{"kind": "environment", "name": "GREETING", "readable_name": "Greeting", "description": "Printed first.", "type": "string", "default": "hello-from-zoe"},
                 {"kind": "service_count", "name": "web", "readable_name": "Servers", "description": "How many.", "type": "integer", "default": "1", "min": 1, "max": 3, "step": 1}]},
 {"category": "Admin", "name": "Admin only", "description": "web.json", "readable_descr": "README.md", "logo": "logo.svg", "parameters": [], "enabled_for": ["admin"]},
 {"category": "Tests", "name": "Fails", "description": "fails.json", "readable_descr": "README.md", "logo": "logo.svg", "parameters": []}
]}`

const portalWebZApp = `{"name": "web", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "web", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "32MiB", "max": "256MiB"}, "cores": {"min": 0.1, "max": 1}},
  "ports": [{"name": "Web", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
  "environment": [["GREETING", "hi"]], "volumes": [],
  "command": "sh -c 'echo \"$GREETING\"; mkdir -p /tmp/www{proxy_path}; echo ok > /tmp/www{proxy_path}index.html; exec httpd -f -p 8080 -h /tmp/www'"}]}`

const portalFailsZApp = `{"name": "fails", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "job", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "16MiB", "max": null}, "cores": {"min": 0.1, "max": null}},
  "ports": [], "environment": [], "volumes": [],
  "command": "sh -c 'echo about-to-fail; exit 3'"}]}`

const portalReadme = "A small web server for tests.\n\n<script>alert(\"zoe\")</script>\n\n**Bold** text.\n"

const portalLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#2563eb"/></svg>`

func newPortalEnv(t *testing.T) *portalEnv {
	t.Helper()
	shopDir := t.TempDir()
	folder := filepath.Join(shopDir, "web")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"manifest.json": portalManifest, "web.json": portalWebZApp, "fails.json": portalFailsZApp, "README.md": portalReadme, "logo.svg": portalLogo}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(folder, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return newPortalEnvShop(t, shopDir, 3)
}

// newPortalEnvShop is a portalEnv on the shop in shopDir, which must offer
// admins zapps ZApps.
func newPortalEnvShop(t *testing.T, shopDir string, zapps int) *portalEnv {
	t.Helper()
	addr := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if addr == "" {
		t.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test`")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sh := shop.Open(shopDir, log)
	if got := len(sh.List("admin")); got != zapps {
		t.Fatalf("test shop: got %d ZApps, want %d (problems %v)", got, zapps, sh.Problems())
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "pg" + hex.EncodeToString(b)
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: addr, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lc := lifecycle.New(st, be, sch, lifecycle.Config{Deployment: dep, Workspaces: t.TempDir(), Resync: time.Second, Logger: log})
	sessions, err := auth.NewSessions(st, auth.SessionConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Deps{
		Logger: log, Version: "test", Deployment: dep, Store: st, Shop: sh, Lifecycle: lc, Sessions: sessions,
		Gate: auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), log),
		Logs: be,
	})
	lc.Start(ctx)
	ts := httptest.NewServer(srv.Routes())
	e := &portalEnv{t: t, st: st, srv: srv, ts: ts, users: map[string]store.User{}}
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		lc.Stop()
		cs, _ := be.List(context.Background())
		for _, c := range cs {
			_ = be.Remove(context.Background(), c.Host, c.ID)
		}
		// The executions' networks too: left behind they use up the
		// engine's address pool over many runs.
		ns, _ := be.Networks(context.Background(), "h1")
		for _, n := range ns {
			_ = be.RemoveNetwork(context.Background(), "h1", n)
		}
		_ = st.Close()
	})
	for _, u := range []struct{ name, role string }{{"admin", "admin"}, {"alice", "user"}, {"bob", "user"}, {"gus", "guest"}} {
		e.addUser(u.name, u.role)
	}
	return e
}

func (e *portalEnv) addUser(name, role string) store.User {
	e.t.Helper()
	u := store.User{Username: name, Role: role, Source: auth.SourceBuiltin, PasswordHash: portalPasswordHash(), Enabled: true}
	if _, err := e.st.CreateUser(context.Background(), &u); err != nil {
		e.t.Fatal(err)
	}
	e.users[name] = u
	return u
}

// portalClient is a browser without JavaScript: a cookie jar, no
// automatic redirects, and the CSRF token of the last page it read.
type portalClient struct {
	t    *testing.T
	e    *portalEnv
	c    *http.Client
	csrf string
}

// page is a response with its body read and parsed.
type page struct {
	status int
	header http.Header
	body   string
	doc    *goquery.Document
}

func (p page) text(sel string) string { return strings.TrimSpace(p.doc.Find(sel).Text()) }

func (p page) has(sel string) bool { return p.doc.Find(sel).Length() > 0 }

func (e *portalEnv) visitor() *portalClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &portalClient{t: e.t, e: e, c: &http.Client{
		Jar:           jar,
		Timeout:       90 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signIn returns a client signed in as name through the sign-in form.
func (e *portalEnv) signIn(name string) *portalClient {
	e.t.Helper()
	c := e.visitor()
	c.get("/login")
	p := c.post("/login", url.Values{"username": {name}, "password": {portalPassword}})
	if p.status != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: got %d, want 303; %s", name, p.status, p.text("[data-testid=login-error]"))
	}
	c.get("/account")
	return c
}

func (c *portalClient) do(req *http.Request) page {
	c.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	if tok, ok := doc.Find(`meta[name="csrf-token"]`).Attr("content"); ok {
		c.csrf = tok
	}
	return page{status: res.StatusCode, header: res.Header, body: string(body), doc: doc}
}

func (c *portalClient) get(path string) page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// htmx is a GET as htmx sends it.
func (c *portalClient) htmx(path string) page {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("HX-Request", "true")
	return c.do(req)
}

// post sends a form with the CSRF token of the last page read, unless
// form sets csrf_token itself (empty to leave it out).
func (c *portalClient) post(path string, form url.Values) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf_token"]; !set {
		form.Set("csrf_token", c.csrf)
	} else if form.Get("csrf_token") == "" {
		form.Del("csrf_token")
	}
	req, err := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// executionID reads the ID from the redirect after a start.
func (c *portalClient) executionID(p page) int64 {
	c.t.Helper()
	loc := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/executions/") {
		c.t.Fatalf("start: got %d to %q, want 303 to /executions/N; %s %s", p.status, loc, p.text("[data-testid=form-error]"), p.text("[data-testid=field-error]"))
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/executions/"), 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// waitStatus waits until execution id reaches want.
func (e *portalEnv) waitStatus(id int64, want ...string) store.Execution {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		x, err := e.st.Execution(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, w := range want {
			if x.Status == w {
				return x
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %d: status %q (%s), want %v", id, x.Status, x.ErrorMessage, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
