package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/store"
)

// proxyEnv is a Server on a real SQLite store with three users, served by
// httptest; services are httptest back-ends recorded in the store as the
// lifecycle would record running containers.
type proxyEnv struct {
	t                   testing.TB
	st                  *store.Store
	srv                 *Server
	sessions            *auth.Sessions
	portal              *httptest.Server
	owner, other, admin store.User
	// With a separate origin: its listener and sessions.
	services      *httptest.Server
	proxySessions *auth.Sessions
}

const testSecret = "0123456789abcdef0123456789abcdef"

// newProxyEnv builds the environment; with separate, services are served by
// ProxyRoutes on a listener of their own.
func newProxyEnv(t testing.TB, separate bool, opts ...func(*ProxyConfig)) *proxyEnv {
	t.Helper()
	var cfg ProxyConfig
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// One session cache for both origins, as zoe serve has.
	cache := auth.NewSessionCache()
	sessions, err := auth.NewSessions(st, auth.SessionConfig{Secret: []byte(testSecret), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	e := &proxyEnv{t: t, st: st, sessions: sessions}
	e.owner = e.user("alice", "user")
	e.other = e.user("bob", "user")
	e.admin = e.user("root", "admin")
	e.portal = httptest.NewUnstartedServer(nil)
	if separate {
		e.proxySessions, err = auth.NewSessions(st, auth.SessionConfig{Secret: []byte(testSecret), CookieName: "zoe_proxy", Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		e.services = httptest.NewUnstartedServer(nil)
		cfg = ProxyConfig{BaseURL: "http://" + e.services.Listener.Addr().String(), PortalURL: "http://" + e.portal.Listener.Addr().String(), Sessions: e.proxySessions}
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv = New(Deps{
		Store:    st,
		Sessions: sessions,
		Gate:     auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), nil),
		Proxy:    cfg,
	})
	e.portal.Config.Handler = e.srv.Routes()
	e.portal.Start()
	t.Cleanup(e.portal.Close)
	if separate {
		e.services.Config.Handler = e.srv.ProxyRoutes()
		e.services.Start()
		t.Cleanup(e.services.Close)
	}
	return e
}

func (e *proxyEnv) user(name, role string) store.User {
	e.t.Helper()
	// Straight into the store: nobody signs in with a password here, and
	// hashing one costs seconds under the race detector.
	u := store.User{Username: name, Role: role, Source: auth.SourceBuiltin, Enabled: true}
	id, err := e.st.CreateUser(context.Background(), &u)
	if err != nil {
		e.t.Fatal(err)
	}
	u.ID = id
	return u
}

// client returns a browser for u (nil: a visitor) that does not follow
// redirects, signed in on the portal.
func (e *proxyEnv) client(u *store.User) *http.Client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if u != nil {
		e.signIn(c, e.sessions, e.portal.URL, *u)
	}
	return c
}

// signIn gives c a session of sessions for u on base, as the sign-in
// form would.
func (e *proxyEnv) signIn(c *http.Client, sessions *auth.Sessions, base string, u store.User) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	if err := sessions.Login(rec, httptest.NewRequest(http.MethodPost, base+"/login", nil), u); err != nil {
		e.t.Fatal(err)
	}
	bu, _ := url.Parse(base)
	c.Jar.SetCookies(bu, rec.Result().Cookies())
}

// backend is a service: an httptest server that records what reached it.
type backend struct {
	*httptest.Server
	hits    atomic.Int64
	mu      sync.Mutex
	last    *http.Request
	release chan struct{}
}

func newBackend(t testing.TB) *backend {
	b := &backend{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "service path %s query %s", r.URL.Path, r.URL.RawQuery)
	})
	mux.HandleFunc("/proxy/{e}/{s}/{p}/echo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host, "header": r.Header})
	})
	mux.HandleFunc("/proxy/{e}/{s}/{p}/cookies", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.URL.Query()["set"] {
			w.Header().Add("Set-Cookie", c)
		}
		w.Header().Set("Service-Worker-Allowed", "/")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/proxy/{e}/{s}/{p}/stream", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "first")
		http.NewResponseController(w).Flush()
		select {
		case <-b.release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "second")
	})
	mux.HandleFunc("/proxy/{e}/{s}/{p}/upload", serveDigest)
	mux.HandleFunc("/proxy/{e}/{s}/{p}/ws", wsEchoHandler)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.last = r
		b.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) port() int {
	_, p, _ := net.SplitHostPort(b.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// execution records an execution of owner with one service "web" whose port
// 8080 the engine published at hostPort.
func (e *proxyEnv) execution(owner store.User, status, svcStatus string, hostPort int) int64 {
	e.t.Helper()
	id, err := e.st.CreateExecution(context.Background(), &store.Execution{Name: "web", UserID: owner.ID, Status: status}, []store.Service{{
		Name: "web", Group: "web", Essential: true, Status: svcStatus, BackendStatus: store.BackendStarted, Host: "h1",
		Ports: []store.Port{
			{Name: "web", Number: 8080, Protocol: "tcp", Proxy: true, URLTemplate: "http://{ip_port}{proxy_path}", ExternalIP: "127.0.0.1", ExternalPort: hostPort},
			{Name: "ssh", Number: 22, Protocol: "tcp", ExternalIP: "127.0.0.1", ExternalPort: hostPort},
		},
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	if status == store.StatusRunning {
		if err := e.st.SetExecutionStatus(context.Background(), id, nil, store.StatusRunning, "", time.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

func (e *proxyEnv) running(owner store.User, b *backend) int64 {
	return e.execution(owner, store.StatusRunning, store.ServiceActive, b.port())
}

func webPath(id int64, rest string) string {
	return fmt.Sprintf("/proxy/%d/web/8080/%s", id, rest)
}

func do(t *testing.T, c *http.Client, method, rawURL string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestProxyAccess(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	mine := e.running(e.owner, b)
	ended := e.execution(e.owner, store.StatusTerminated, store.ServiceInactive, b.port())
	stopped := e.execution(e.owner, store.StatusRunning, store.ServiceInactive, b.port())
	owner, other, admin, visitor := e.client(&e.owner), e.client(&e.other), e.client(&e.admin), e.client(nil)

	tests := []struct {
		name     string
		c        *http.Client
		method   string
		path     string
		status   int
		location string
		origin   string
	}{
		{"owner", owner, "GET", webPath(mine, "page?x=1"), http.StatusOK, "", ""},
		{"owner POST", owner, "POST", webPath(mine, "page"), http.StatusOK, "", ""},
		{"owner without slash", owner, "GET", fmt.Sprintf("/proxy/%d/web/8080?a=b", mine), http.StatusTemporaryRedirect, webPath(mine, "") + "?a=b", ""},
		{"other user", other, "GET", webPath(mine, ""), http.StatusNotFound, "", ""},
		{"other user without slash", other, "GET", fmt.Sprintf("/proxy/%d/web/8080", mine), http.StatusNotFound, "", ""},
		{"admin is warned first", admin, "GET", webPath(mine, "page?x=1"), http.StatusSeeOther, "/proxy-login?next=" + url.QueryEscape(webPath(mine, "page?x=1")), ""},
		{"admin POST before confirming", admin, "POST", webPath(mine, "page"), http.StatusForbidden, "", ""},
		{"visitor GET", visitor, "GET", webPath(mine, "page?x=1"), http.StatusSeeOther, "/login?next=" + url.QueryEscape(webPath(mine, "page?x=1")), ""},
		{"visitor POST", visitor, "POST", webPath(mine, "page"), http.StatusUnauthorized, "", ""},
		{"unknown execution", owner, "GET", webPath(mine+100, ""), http.StatusNotFound, "", ""},
		{"undeclared port", owner, "GET", fmt.Sprintf("/proxy/%d/web/9999/", mine), http.StatusNotFound, "", ""},
		{"unknown service", owner, "GET", fmt.Sprintf("/proxy/%d/nope/8080/", mine), http.StatusNotFound, "", ""},
		{"ended execution", owner, "GET", webPath(ended, ""), http.StatusNotFound, "", ""},
		{"stopped service", owner, "GET", webPath(stopped, ""), http.StatusNotFound, "", ""},
		{"bad port", owner, "GET", fmt.Sprintf("/proxy/%d/web/70000/", mine), http.StatusNotFound, "", ""},
		{"owner POST from another site", owner, "POST", webPath(mine, "page"), http.StatusForbidden, "", "https://evil.example"},
		{"owner POST from a sandboxed page", owner, "POST", webPath(mine, "page"), http.StatusForbidden, "", "null"},
		{"owner POST from the portal", owner, "POST", webPath(mine, "page"), http.StatusOK, "", e.portal.URL},
		{"owner GET from another site", owner, "GET", webPath(mine, "page"), http.StatusOK, "", "https://evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.hits.Load()
			var h http.Header
			if tt.origin != "" {
				h = http.Header{"Origin": {tt.origin}}
			}
			res, body := do(t, tt.c, tt.method, e.portal.URL+tt.path, nil, h)
			if res.StatusCode != tt.status {
				t.Fatalf("got status %d (%s), want %d", res.StatusCode, body, tt.status)
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Errorf("got Location %q, want %q", got, tt.location)
			}
			reached := b.hits.Load() > before
			if want := tt.status == http.StatusOK; reached != want {
				t.Errorf("got service reached %v, want %v", reached, want)
			}
		})
	}
}

func TestProxyAdminConfirms(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	admin := e.client(&e.admin)
	next := webPath(id, "page?x=1")

	res, body := do(t, admin, "GET", e.portal.URL+"/proxy-login?next="+url.QueryEscape(next), nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("warning page: got status %d, want 200", res.StatusCode)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find(`[data-testid="proxy-warning"]`).Length() != 1 {
		t.Fatalf("got no warning on the page:\n%s", body)
	}
	if got := doc.Find(`[data-testid="proxy-warning"]`).Text(); !strings.Contains(got, "alice") {
		t.Errorf("got warning %q, want it to name the owner alice", got)
	}
	form := doc.Find(`[data-testid="proxy-warning"] form`)
	csrf, _ := form.Find(`input[name="csrf_token"]`).Attr("value")
	gotNext, _ := form.Find(`input[name="next"]`).Attr("value")
	if gotNext != next {
		t.Errorf("got next %q, want %q", gotNext, next)
	}

	// Without the CSRF token the confirmation is refused.
	res, _ = do(t, admin, "POST", e.portal.URL+"/proxy-login", strings.NewReader(url.Values{"next": {next}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("confirm without CSRF: got status %d, want 403", res.StatusCode)
	}
	if _, body := do(t, admin, "GET", e.portal.URL+next, nil, nil); strings.Contains(body, "service path") {
		t.Fatal("the service was reached before the admin confirmed")
	}

	res, _ = do(t, admin, "POST", e.portal.URL+"/proxy-login", strings.NewReader(url.Values{"next": {next}, "csrf_token": {csrf}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != next {
		t.Fatalf("confirm: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), next)
	}
	res, body = do(t, admin, "GET", e.portal.URL+next, nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "service path") {
		t.Fatalf("after confirming: got %d %q, want the service", res.StatusCode, body)
	}

	// The owner is never asked.
	res, _ = do(t, e.client(&e.owner), "GET", e.portal.URL+"/proxy-login?next="+url.QueryEscape(next), nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != next {
		t.Fatalf("owner: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), next)
	}
}

func TestProxyLoginRefusesOtherTargets(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	owner := e.client(&e.owner)
	for _, next := range []string{
		"https://evil.example/",
		"//evil.example/proxy/1/web/8080/",
		"/login",
		"/proxy/" + strconv.FormatInt(id, 10) + "/web/8080/../../../admin",
		"/proxy/" + strconv.FormatInt(id, 10) + "/web",
		"/proxy/x/web/8080/",
		"/\\evil.example",
	} {
		t.Run(next, func(t *testing.T) {
			res, _ := do(t, owner, "GET", e.portal.URL+"/proxy-login?next="+url.QueryEscape(next), nil, nil)
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("got status %d (Location %q), want 404", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
}

func TestProxyStripsPortalCredentials(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	owner := e.client(&e.owner)
	u, _ := url.Parse(e.portal.URL + webPath(id, ""))
	owner.Jar.SetCookies(u, []*http.Cookie{{Name: "theirs", Value: "1", Path: webPath(id, "")}})

	res, body := do(t, owner, "GET", e.portal.URL+webPath(id, "echo?q=a%2Fb&r=1"), nil, http.Header{
		"Authorization":   {"Bearer zoe_secret"},
		"X-Csrf-Token":    {"portal-token"},
		"X-Forwarded-For": {"6.6.6.6"},
		"Cookie":          {"zoe_planted=1; other=2"},
	})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got status %d: %s", res.StatusCode, body)
	}
	var seen struct {
		Path, Query, Host string
		Header            http.Header
	}
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatal(err)
	}
	if seen.Path != webPath(id, "echo") || seen.Query != "q=a%2Fb&r=1" {
		t.Errorf("got path %q query %q, want the request's", seen.Path, seen.Query)
	}
	if seen.Host != u.Host {
		t.Errorf("got Host %q, want the browser's %q", seen.Host, u.Host)
	}
	for _, h := range []string{"Authorization", "X-Csrf-Token"} {
		if v := seen.Header.Get(h); v != "" {
			t.Errorf("the service got %s: %q", h, v)
		}
	}
	cookies := strings.Join(seen.Header.Values("Cookie"), "; ")
	if strings.Contains(cookies, "zoe_") {
		t.Errorf("the service got the portal's cookies: %q", cookies)
	}
	for _, want := range []string{"theirs=1", "other=2"} {
		if !strings.Contains(cookies, want) {
			t.Errorf("got cookies %q, want %s kept", cookies, want)
		}
	}
	wantFwd := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": u.Host, "X-Forwarded-Proto": "http", "X-Forwarded-Prefix": strings.TrimSuffix(webPath(id, ""), "/")}
	for h, want := range wantFwd {
		if got := seen.Header.Get(h); got != want {
			t.Errorf("got %s %q, want %q", h, got, want)
		}
	}
}

func TestConfineCookies(t *testing.T) {
	const prefix = "/proxy/7/web/8080/"
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"no path", []string{"a=1"}, []string{"a=1; Path=" + prefix}},
		{"root path", []string{"a=1; Path=/; HttpOnly"}, []string{"a=1; Path=" + prefix + "; HttpOnly"}},
		{"portal path", []string{"a=1; Path=/executions"}, []string{"a=1; Path=" + prefix}},
		{"own path kept", []string{"a=1; Path=/proxy/7/web/8080/tree; Secure; SameSite=Strict"}, []string{"a=1; Path=/proxy/7/web/8080/tree; Secure; SameSite=Strict"}},
		{"prefix without slash kept", []string{"a=1; Path=/proxy/7/web/8080"}, []string{"a=1; Path=/proxy/7/web/8080"}},
		{"sibling execution", []string{"a=1; Path=/proxy/70/web/8080/"}, []string{"a=1; Path=" + prefix}},
		{"dot segments", []string{"a=1; Path=/proxy/7/web/8080/../../../"}, []string{"a=1; Path=" + prefix}},
		{"domain dropped", []string{"a=1; Domain=example.org; Path=/proxy/7/web/8080/"}, []string{"a=1; Path=" + prefix}},
		{"portal cookie dropped", []string{"zoe_session=x", "ZOE_proxy=y; Path=/", "b=2"}, []string{"b=2; Path=" + prefix}},
		{"max-age kept", []string{"a=1; Max-Age=60"}, []string{"a=1; Path=" + prefix + "; Max-Age=60"}},
		{"unparsable dropped", []string{"=novalue", "b=2"}, []string{"b=2; Path=" + prefix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Set-Cookie": tt.in}
			confineCookies(h, prefix)
			if diff := cmp.Diff(tt.want, h.Values("Set-Cookie")); diff != "" {
				t.Errorf("Set-Cookie (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProxyConfinesServiceCookies(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	q := url.Values{"set": {"zoe_session=stolen; Path=/", "jupyter=1; Path=/"}}
	res, _ := do(t, e.client(&e.owner), "GET", e.portal.URL+webPath(id, "cookies?"+q.Encode()), nil, nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("got status %d, want 204", res.StatusCode)
	}
	var got []string
	for _, c := range res.Cookies() {
		got = append(got, c.Name+" "+c.Path)
	}
	if diff := cmp.Diff([]string{"jupyter " + webPath(id, "")}, got); diff != "" {
		t.Errorf("cookies reaching the browser (-want +got):\n%s", diff)
	}
	if v := res.Header.Get("Service-Worker-Allowed"); v != "" {
		t.Errorf("got Service-Worker-Allowed %q, want none", v)
	}
}

func TestProxyStreams(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	res, err := e.client(&e.owner).Get(e.portal.URL + webPath(id, "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first := make(chan string, 1)
	go func() {
		buf := make([]byte, 6)
		n, _ := io.ReadFull(res.Body, buf)
		first <- string(buf[:n])
	}()
	select {
	case got := <-first:
		if got != "first\n" {
			t.Fatalf("got %q, want the first line", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first line did not arrive while the service kept the response open: the proxy buffers")
	}
	close(b.release)
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != "second\n" {
		t.Errorf("got rest %q, want the second line", rest)
	}
}

func TestProxyLargeUpload(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	res, body := do(t, e.client(&e.owner), "POST", e.portal.URL+webPath(id, "upload"), strings.NewReader(string(data)), http.Header{"Content-Type": {"application/octet-stream"}})
	if want := fmt.Sprintf("%d %s", len(data), hex.EncodeToString(sum[:])); res.StatusCode != http.StatusOK || body != want {
		t.Fatalf("got %d %q, want 200 %q", res.StatusCode, body, want)
	}
}

func TestProxyWebSocket(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	owner := e.client(&e.owner)
	u, _ := url.Parse(e.portal.URL)
	cookie := http.Header{"Cookie": {cookieHeader(owner.Jar.Cookies(u))}}

	ws, res := wsDial(t, e.portal.URL+webPath(id, "ws"), cookie)
	if ws == nil {
		t.Fatalf("got handshake status %d, want 101", res.StatusCode)
	}
	before, _ := e.srv.ProxyActivity(id)
	for i, msg := range []string{"hello", strings.Repeat("x", 70000), "bye"} {
		ws.send(t, msg)
		if got := ws.receive(t, 5*time.Second); got != msg {
			t.Fatalf("message %d: got %d bytes back, want %d", i, len(got), len(msg))
		}
	}
	after, ok := e.srv.ProxyActivity(id)
	if !ok || !after.After(before) {
		t.Errorf("got activity %v then %v (%v), want WebSocket traffic to count", before, after, ok)
	}

	t.Run("visitor refused", func(t *testing.T) {
		if ws, res := wsDial(t, e.portal.URL+webPath(id, "ws"), nil); ws != nil || res.StatusCode != http.StatusSeeOther {
			t.Fatalf("got status %d, want 303 to sign in", res.StatusCode)
		}
	})
	t.Run("another site refused", func(t *testing.T) {
		if ws, res := wsDial(t, e.portal.URL+webPath(id, "ws"), http.Header{"Cookie": cookie["Cookie"], "Origin": {"https://evil.example"}}); ws != nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("got status %d, want 403", res.StatusCode)
		}
	})
	t.Run("same origin accepted", func(t *testing.T) {
		if ws, res := wsDial(t, e.portal.URL+webPath(id, "ws"), http.Header{"Cookie": cookie["Cookie"], "Origin": {e.portal.URL}}); ws == nil {
			t.Fatalf("got status %d, want 101", res.StatusCode)
		}
	})
	t.Run("other user refused", func(t *testing.T) {
		other := e.client(&e.other)
		if ws, res := wsDial(t, e.portal.URL+webPath(id, "ws"), http.Header{"Cookie": {cookieHeader(other.Jar.Cookies(u))}}); ws != nil || res.StatusCode != http.StatusNotFound {
			t.Fatalf("got status %d, want 404", res.StatusCode)
		}
	})
}

func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

func TestProxyDeadService(t *testing.T) {
	e := newProxyEnv(t, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	id := e.execution(e.owner, store.StatusRunning, store.ServiceActive, port)
	res, body := do(t, e.client(&e.owner), "GET", e.portal.URL+webPath(id, ""), nil, nil)
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("got status %d, want 502", res.StatusCode)
	}
	if want := "service web of execution " + strconv.FormatInt(id, 10) + " does not answer on port 8080"; !strings.Contains(body, want) {
		t.Errorf("got %q, want it to say %q", body, want)
	}
}

// TestProxyTraversal sends paths as raw bytes (clients would clean them):
// none may reach another execution's service.
func TestProxyTraversal(t *testing.T) {
	e := newProxyEnv(t, false)
	mineB, theirsB := newBackend(t), newBackend(t)
	mine := e.running(e.owner, mineB)
	theirs := e.running(e.other, theirsB)
	owner := e.client(&e.owner)
	u, _ := url.Parse(e.portal.URL)
	cookie := cookieHeader(owner.Jar.Cookies(u))
	m, o := strconv.FormatInt(mine, 10), strconv.FormatInt(theirs, 10)
	for _, path := range []string{
		"/proxy/" + m + "/web/8080/../../" + o + "/web/8080/",
		"/proxy/" + m + "/web/8080/../../../admin",
		"/proxy/" + m + "/web/8080/%2e%2e/%2e%2e/" + o + "/web/8080/",
		"/proxy/" + m + "/web/8080/.%2E/.%2E/" + o + "/web/8080/",
		"/proxy/" + m + "%2f..%2f" + o + "/web/8080/",
		"/proxy/" + m + "/../" + o + "/web/8080/",
		"/proxy/" + o + "/web/8080/",
		"/proxy/+" + o + "/web/8080/",
		"/proxy/" + o + "%00/web/8080/",
		"/proxy/" + m + "/web%2f8080/",
		"/proxy/" + m + "/./web/8080/",
	} {
		t.Run(path, func(t *testing.T) {
			before := mineB.hits.Load()
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nConnection: close\r\n\r\n", path, u.Host, cookie)
			raw, _ := io.ReadAll(conn)
			status := strings.SplitN(string(raw), "\r\n", 2)[0]
			if strings.Contains(status, " 200 ") {
				t.Errorf("got %q, want a refusal", status)
			}
			if n := theirsB.hits.Load(); n != 0 {
				t.Fatalf("the other execution's service got %d requests", n)
			}
			if mineB.hits.Load() != before {
				mineB.mu.Lock()
				t.Errorf("got a request for %q at the owner's service, want dot segments refused", mineB.last.URL.Path)
				mineB.mu.Unlock()
			}
		})
	}
}

func TestEndpointReady(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	svcs, err := e.st.ExecutionServices(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	svc := svcs[0]
	web, tcp := svc.Ports[0], svc.Ports[1]
	now := time.Now()
	e.srv.px.setClock(func() time.Time { return now })

	inactive := svc
	inactive.Status = store.ServiceInactive
	unpublished := web
	unpublished.ExternalPort = 0
	tests := []struct {
		name string
		svc  store.Service
		port store.Port
		want bool
	}{
		{"web port answers", svc, web, true},
		{"tcp port answers", svc, tcp, true},
		{"service not running", inactive, web, false},
		{"port not published", svc, unpublished, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.srv.endpointReady(tt.svc, tt.port); got != tt.want {
				t.Errorf("got ready %v, want %v", got, tt.want)
			}
		})
	}

	hits := b.hits.Load()
	if !e.srv.endpointReady(svc, web) {
		t.Error("got not ready on the second ask, want the remembered answer")
	}
	if got := b.hits.Load(); got != hits {
		t.Errorf("got %d more probes within a second, want none", got-hits)
	}
	b.Close()
	if !e.srv.endpointReady(svc, web) {
		t.Error("got not ready within a second of a positive probe, want the remembered answer")
	}
	now = now.Add(probeEvery)
	if e.srv.endpointReady(svc, web) || e.srv.endpointReady(svc, tcp) {
		t.Error("got ready after the service stopped, want not ready")
	}
}

func TestEndpointURL(t *testing.T) {
	svc := store.Service{ExecutionID: 7, Name: "web"}
	web := store.Port{Number: 8080, Protocol: "tcp", Proxy: true, ExternalIP: "10.0.0.5", ExternalPort: 32768}
	httpTemplate := store.Port{Number: 4040, Protocol: "tcp", URLTemplate: "http://{ip_port}/", ExternalIP: "10.0.0.5", ExternalPort: 32769}
	ssh := store.Port{Number: 22, Protocol: "tcp", ExternalIP: "10.0.0.5", ExternalPort: 32770}
	unpublished := store.Port{Number: 22, Protocol: "tcp"}
	tests := []struct {
		name    string
		baseURL string
		port    store.Port
		want    string
		wantWeb bool
	}{
		{"proxied", "", web, "/proxy/7/web/8080/", true},
		{"http template", "", httpTemplate, "/proxy/7/web/4040/", true},
		{"separate origin", "https://svc.example", web, "/proxy-login?next=%2Fproxy%2F7%2Fweb%2F8080%2F", true},
		{"not http", "", ssh, "10.0.0.5:32770", false},
		{"not published", "", unpublished, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Deps{Proxy: ProxyConfig{BaseURL: tt.baseURL}})
			got, gotWeb := s.endpointURL(svc, tt.port)
			if got != tt.want || gotWeb != tt.wantWeb {
				t.Errorf("got %q %v, want %q %v", got, gotWeb, tt.want, tt.wantWeb)
			}
		})
	}
}

func TestLastUse(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	used := e.running(e.owner, b)
	unused := e.running(e.owner, b)
	batch, err := e.st.CreateExecution(context.Background(), &store.Execution{Name: "batch", UserID: e.owner.ID}, []store.Service{{Name: "job", Status: store.ServiceActive, BackendStatus: store.BackendStarted}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetExecutionStatus(context.Background(), batch, nil, store.StatusRunning, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, _ := do(t, e.client(&e.owner), "GET", e.portal.URL+webPath(used, ""), nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", res.StatusCode)
	}
	if _, ok := e.srv.ProxyActivity(used); !ok {
		t.Fatal("got no activity after a request")
	}
	if _, ok := e.srv.ProxyActivity(unused); ok {
		t.Fatal("got activity for an execution nobody opened")
	}
	later := time.Now().Add(10 * time.Minute)
	e.srv.px.activity.touch(used, later)
	active, err := e.st.ActiveExecutions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := e.srv.LastUse(active)
	want := map[int64]lifecycle.Use{
		used:   {Last: later, Web: true},
		unused: {Last: e.srv.started, Web: true},
		batch:  {Last: e.srv.started, Web: false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last use (-want +got):\n%s", diff)
	}

	// An execution that ended is forgotten.
	if got := e.srv.LastUse(nil); len(got) != 0 {
		t.Errorf("got %v for no active execution, want nothing", got)
	}
	if _, ok := e.srv.ProxyActivity(used); ok {
		t.Error("got activity of an execution no longer active, want it forgotten")
	}
}

func TestServiceAddr(t *testing.T) {
	e := newProxyEnv(t, false)
	b := newBackend(t)
	id := e.running(e.owner, b)
	active, err := e.st.ActiveExecutions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc := active[0].Services[0]
	addr, err := e.srv.ServiceAddr(context.Background(), id, svc.Name, svc.Ports[0].Number)
	if err != nil {
		t.Fatal(err)
	}
	if want := targetAddr(svc.Ports[0]); addr != want {
		t.Errorf("got address %q, want %q (the proxy's)", addr, want)
	}
	if _, err := e.srv.ServiceAddr(context.Background(), id, svc.Name, 1); err == nil {
		t.Error("got an address for a port the service does not declare, want an error")
	}
}

func httptestRecorder(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// BenchmarkProxy measures a small GET through the proxy: session, route
// (cached), forward, response.
func BenchmarkProxy(b *testing.B) {
	e := newProxyEnv(b, false)
	be := newBackend(b)
	id := e.running(e.owner, be)
	c := e.client(&e.owner)
	c.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	target := e.portal.URL + webPath(id, "page")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("got status %d", res.StatusCode)
				return
			}
		}
	})
}
