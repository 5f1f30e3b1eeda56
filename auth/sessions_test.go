package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/zoe-analytics/zoe/store"
)

// portal is a tiny site wired like the real one: Middleware, then
// RequireCSRF, then the routes.
type portal struct {
	t      *testing.T
	st     *store.Store
	s      *Sessions
	clock  *fakeClock
	srv    *httptest.Server
	signIn map[string]store.User
}

func newPortal(t *testing.T, cfg SessionConfig) *portal {
	t.Helper()
	p := &portal{t: t, st: openStore(t), clock: newFakeClock(), signIn: make(map[string]store.User)}
	if cfg.Secret == nil {
		cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	}
	s, err := NewSessions(p.st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.now, s.store.now = p.clock.Now, p.clock.Now
	p.s = s
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", whoAmI)
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s.CSRFToken(r))
	})
	mux.HandleFunc("GET /handle", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, s.Handle(r))
	})
	mux.Handle("POST /login", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := p.signIn[r.PostFormValue("user")]
		if !ok {
			http.Error(w, "no such user", http.StatusUnauthorized)
			return
		}
		if err := s.Login(w, r, u); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, s.CSRFToken(r))
	}))
	mux.Handle("POST /logout", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Logout(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	mux.Handle("POST /action", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "done")
	}))
	p.srv = httptest.NewServer(s.Middleware(s.RequireCSRF(mux)))
	t.Cleanup(p.srv.Close)
	return p
}

// whoAmI answers with the signed-in user's name, or "anonymous".
func whoAmI(w http.ResponseWriter, r *http.Request) {
	if u := FromContext(r.Context()); u != nil {
		io.WriteString(w, u.Username)
		return
	}
	io.WriteString(w, "anonymous")
}

func (p *portal) addUser(name, role string) store.User {
	u := store.User{Username: name, Role: role, Source: SourceBuiltin, Enabled: true}
	if _, err := p.st.CreateUser(context.Background(), &u); err != nil {
		p.t.Fatal(err)
	}
	p.signIn[name] = u
	return u
}

// browser is a client with its own cookie jar.
type browser struct {
	p *portal
	c *http.Client
}

func (p *portal) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return &browser{p: p, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, form url.Values, header http.Header) (int, string) {
	b.p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.p.srv.URL+path, body)
	if err != nil {
		b.p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.p.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func (b *browser) get(path string) string {
	b.p.t.Helper()
	code, body := b.do("GET", path, nil, nil)
	if code != http.StatusOK {
		b.p.t.Fatalf("GET %s = %d %s", path, code, body)
	}
	return body
}

// login signs in as user through the form and returns the new CSRF token.
func (b *browser) login(user string) string {
	b.p.t.Helper()
	tok := b.get("/form")
	code, body := b.do("POST", "/login", url.Values{"user": {user}, CSRFField: {tok}}, nil)
	if code != http.StatusOK {
		b.p.t.Fatalf("login %s = %d %s", user, code, body)
	}
	return body
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.p.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// replay sends GET /me with only the given session cookie value, as a
// thief who copied it would.
func (p *portal) replay(value string) string {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.srv.URL+"/me", nil)
	req.AddCookie(&http.Cookie{Name: "zoe_session", Value: value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return string(out)
}

func TestSessionLoginLogout(t *testing.T) {
	p := newPortal(t, SessionConfig{})
	p.addUser("ada", "user")
	p.addUser("bob", "admin")
	b := p.browser()

	if got := b.get("/me"); got != "anonymous" {
		t.Fatalf("before login: %q, want anonymous", got)
	}
	b.login("ada")
	if got := b.get("/me"); got != "ada" {
		t.Fatalf("after login: %q, want ada", got)
	}
	first := b.cookie("zoe_session")
	if first == nil {
		t.Fatal("no session cookie after login")
	}

	// Signing in again (here as someone else) issues a new session ID and
	// ends the old one: an ID known before sign-in is worth nothing after.
	b.login("bob")
	second := b.cookie("zoe_session")
	if second == nil || second.Value == first.Value {
		t.Fatalf("session cookie unchanged by login: %v", second)
	}
	if got := p.replay(first.Value); got != "anonymous" {
		t.Errorf("old session after a new login: %q, want anonymous", got)
	}
	if got := p.replay(second.Value); got != "bob" {
		t.Errorf("new session: %q, want bob", got)
	}

	tok := b.get("/form")
	if code, body := b.do("POST", "/logout", url.Values{CSRFField: {tok}}, nil); code != http.StatusOK {
		t.Fatalf("logout = %d %s", code, body)
	}
	if got := b.get("/me"); got != "anonymous" {
		t.Errorf("after logout: %q, want anonymous", got)
	}
	if got := p.replay(second.Value); got != "anonymous" {
		t.Errorf("copied cookie after logout: %q, want anonymous", got)
	}
	if got := p.replay("forged-value"); got != "anonymous" {
		t.Errorf("forged cookie: %q, want anonymous", got)
	}
}

func TestSessionUserDisabledOrEnded(t *testing.T) {
	ctx := context.Background()
	p := newPortal(t, SessionConfig{})
	ada := p.addUser("ada", "user")
	p.addUser("bob", "user")
	b1, b2, b3 := p.browser(), p.browser(), p.browser()
	b1.login("ada")
	b2.login("ada")
	b3.login("bob")

	if err := p.s.EndUserSessions(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	for i, b := range []*browser{b1, b2} {
		if got := b.get("/me"); got != "anonymous" {
			t.Errorf("ada's browser %d after EndUserSessions: %q, want anonymous", i+1, got)
		}
	}
	if got := b3.get("/me"); got != "bob" {
		t.Errorf("bob's browser after ending ada's sessions: %q, want bob", got)
	}

	// Disabled in the store alone, as another Zoe process would do it: the
	// session cache still knows ada for up to its lifetime, then she is out.
	// Disabled by this process, which tells the sessions: out at once.
	tests := []struct {
		name   string
		tell   func()
		within time.Duration
	}{
		{"by another process", func() {}, sessionCacheLifetime},
		{"by this process", func() { p.s.ForgetUser(ada.ID) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ada.Enabled = true
			if err := p.st.UpdateUser(ctx, ada); err != nil {
				t.Fatal(err)
			}
			b1.login("ada")
			if got := b1.get("/me"); got != "ada" {
				t.Fatalf("after login: %q, want ada", got)
			}
			ada.Enabled = false
			if err := p.st.UpdateUser(ctx, ada); err != nil {
				t.Fatal(err)
			}
			tt.tell()
			p.clock.Advance(tt.within)
			if got := b1.get("/me"); got != "anonymous" {
				t.Errorf("disabled user: %q, want anonymous after %v", got, tt.within)
			}
		})
	}
}

// TestSessionCacheServesRequests checks that a signed-in browser's requests
// within the cache's lifetime do not read the session again, and that
// sign-out and ending a user's sessions hold at once all the same.
func TestSessionCacheServesRequests(t *testing.T) {
	ctx := context.Background()
	p := newPortal(t, SessionConfig{})
	ada := p.addUser("ada", "user")
	b := p.browser()
	b.login("ada")
	if got := b.get("/me"); got != "ada" {
		t.Fatalf("after login: %q, want ada", got)
	}
	cookie := b.cookie("zoe_session").Value

	// Take the row away behind the cache's back: the cached session still
	// answers, which shows the request did not read the store.
	var id string
	if err := securecookie.DecodeMulti("zoe_session", cookie, &id, p.s.store.codecs...); err != nil {
		t.Fatal(err)
	}
	if err := p.st.DeleteSession(ctx, rowID(id)); err != nil {
		t.Fatal(err)
	}
	if got := p.replay(cookie); got != "ada" {
		t.Errorf("within the cache's lifetime: %q, want ada from the cache", got)
	}
	p.clock.Advance(sessionCacheLifetime)
	if got := p.replay(cookie); got != "anonymous" {
		t.Errorf("after the cache's lifetime, row deleted: %q, want anonymous", got)
	}

	tests := []struct {
		name string
		end  func(b *browser)
	}{
		{"sign-out", func(b *browser) {
			tok := b.get("/form")
			if code, body := b.do("POST", "/logout", url.Values{CSRFField: {tok}}, nil); code != http.StatusOK {
				t.Fatalf("logout = %d %s", code, body)
			}
		}},
		{"end user sessions", func(*browser) {
			if err := p.s.EndUserSessions(ctx, ada.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := p.browser()
			b.login("ada")
			if got := b.get("/me"); got != "ada" {
				t.Fatalf("after login: %q, want ada", got)
			}
			cookie := b.cookie("zoe_session").Value
			if got := p.replay(cookie); got != "ada" {
				t.Fatalf("copied cookie before: %q, want ada", got)
			}
			tt.end(b)
			if got := p.replay(cookie); got != "anonymous" {
				t.Errorf("copied cookie after %s: %q, want anonymous at once", tt.name, got)
			}
		})
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	p := newPortal(t, SessionConfig{IdleTimeout: 12 * time.Hour})
	p.addUser("ada", "user")
	b := p.browser()
	b.login("ada")

	p.clock.Advance(11 * time.Hour)
	if got := b.get("/me"); got != "ada" {
		t.Fatalf("after 11 h idle: %q, want ada", got)
	}
	// That request extended the session by another 12 h.
	p.clock.Advance(11 * time.Hour)
	if got := b.get("/me"); got != "ada" {
		t.Fatalf("22 h after login, 11 h idle: %q, want ada", got)
	}
	p.clock.Advance(12*time.Hour + time.Second)
	if got := b.get("/me"); got != "anonymous" {
		t.Errorf("after 12 h idle: %q, want anonymous", got)
	}
}

func TestSessionCookieOptions(t *testing.T) {
	tests := []struct {
		secure     string
		https      bool
		forwarded  bool
		wantSecure bool
	}{
		{"auto", false, false, false},
		{"auto", true, false, true},
		{"auto", false, true, true},
		{"always", false, false, true},
		{"never", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.secure, func(t *testing.T) {
			st := openStore(t)
			s, err := NewSessions(st, SessionConfig{Secret: []byte("0123456789abcdef"), Secure: tt.secure})
			if err != nil {
				t.Fatal(err)
			}
			u := store.User{Username: "ada", Role: "user", Source: SourceBuiltin, Enabled: true}
			if _, err := st.CreateUser(context.Background(), &u); err != nil {
				t.Fatal(err)
			}
			target := "http://zoe.test/login"
			if tt.https {
				target = "https://zoe.test/login"
			}
			r := httptest.NewRequest("POST", target, nil)
			if tt.forwarded {
				r.Header.Set("X-Forwarded-Proto", "https")
			}
			w := httptest.NewRecorder()
			if err := s.Login(w, r, u); err != nil {
				t.Fatal(err)
			}
			var c *http.Cookie
			for _, x := range w.Result().Cookies() {
				if x.Name == "zoe_session" {
					c = x
				}
			}
			if c == nil {
				t.Fatal("no session cookie")
			}
			if c.Secure != tt.wantSecure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 12*3600 {
				t.Errorf("cookie = %+v; want Secure %v, HttpOnly, SameSite=Lax, Path /, MaxAge 12 h", c, tt.wantSecure)
			}
		})
	}
	if _, err := NewSessions(openStore(t), SessionConfig{Secret: []byte("0123456789abcdef"), Secure: "sometimes"}); err == nil {
		t.Errorf("NewSessions with secure=sometimes: nil error, want one")
	}
	if _, err := NewSessions(openStore(t), SessionConfig{Secret: []byte("short")}); err == nil {
		t.Errorf("NewSessions with a short secret: nil error, want one")
	}
}

func TestCSRF(t *testing.T) {
	p := newPortal(t, SessionConfig{TrustedOrigins: []string{"https://zoe.example.org/"}})
	p.addUser("ada", "user")
	b := p.browser()
	anonTok := b.get("/form")
	if anonTok == "" {
		t.Fatal("no CSRF token for a visitor")
	}
	if again := b.get("/form"); again != anonTok {
		t.Errorf("visitor token changed between pages: %q then %q", anonTok, again)
	}
	tok := b.login("ada")
	if tok == "" || tok == anonTok {
		t.Fatalf("token after login = %q, want a new one (visitor's was %q)", tok, anonTok)
	}
	if got := b.get("/form"); got != tok {
		t.Fatalf("session token = %q, want the one issued at login %q", got, tok)
	}
	self := p.srv.URL

	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	tests := []struct {
		name   string
		method string
		form   url.Values
		header http.Header
		want   int
	}{
		{"missing", "POST", url.Values{}, nil, http.StatusForbidden},
		{"wrong", "POST", url.Values{CSRFField: {tok + "x"}}, nil, http.StatusForbidden},
		{"visitor token after login", "POST", url.Values{CSRFField: {anonTok}}, nil, http.StatusForbidden},
		{"right, form", "POST", url.Values{CSRFField: {tok}}, nil, http.StatusOK},
		{"right, header", "POST", nil, h(CSRFHeader, tok), http.StatusOK},
		{"right, PUT", "PUT", nil, h(CSRFHeader, tok), http.StatusMethodNotAllowed},
		{"missing, DELETE", "DELETE", nil, nil, http.StatusForbidden},
		{"right, same origin", "POST", url.Values{CSRFField: {tok}}, h("Origin", self), http.StatusOK},
		{"right, trusted origin", "POST", url.Values{CSRFField: {tok}}, h("Origin", "https://zoe.example.org"), http.StatusOK},
		{"right, other origin", "POST", url.Values{CSRFField: {tok}}, h("Origin", "https://evil.example"), http.StatusForbidden},
		{"right, null origin", "POST", url.Values{CSRFField: {tok}}, h("Origin", "null"), http.StatusForbidden},
		{"right, other referer", "POST", url.Values{CSRFField: {tok}}, h("Referer", "https://evil.example/page"), http.StatusForbidden},
		{"right, same referer", "POST", url.Values{CSRFField: {tok}}, h("Referer", self+"/executions"), http.StatusOK},
		{"bearer, no token", "POST", url.Values{}, h("Authorization", "Bearer zoe_x"), http.StatusOK},
		{"basic, no token", "POST", url.Values{}, h("Authorization", "Basic YTpi"), http.StatusOK},
		{"cookie-ish authorization, no token", "POST", url.Values{}, h("Authorization", "Session x"), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := b.do(tt.method, "/action", tt.form, tt.header)
			// PUT reaches the mux, which only has POST /action: getting past
			// RequireCSRF shows as 405.
			if code != tt.want {
				t.Errorf("%s /action = %d %q, want %d", tt.method, code, body, tt.want)
			}
		})
	}

	// A visitor's own token works for the sign-in form, and only theirs.
	v1, v2 := p.browser(), p.browser()
	t1, t2 := v1.get("/form"), v2.get("/form")
	if t1 == t2 {
		t.Fatalf("two visitors share the token %q", t1)
	}
	if code, _ := v1.do("POST", "/action", url.Values{CSRFField: {t2}}, nil); code != http.StatusForbidden {
		t.Errorf("visitor posting another visitor's token = %d, want 403", code)
	}
	if code, _ := v1.do("POST", "/action", url.Values{CSRFField: {t1}}, nil); code != http.StatusOK {
		t.Errorf("visitor posting their own token = %d, want 200", code)
	}
}

func TestCookieSecret(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	got, err := CookieSecret(ctx, st, "configured-secret-value")
	if err != nil || string(got) != "configured-secret-value" {
		t.Errorf("configured: %q, %v", got, err)
	}
	if _, err := CookieSecret(ctx, st, "short"); err == nil {
		t.Errorf("short configured secret: nil error, want one")
	}
	a, err := CookieSecret(ctx, st, "")
	if err != nil || len(a) < 32 {
		t.Fatalf("generated: %q, %v", a, err)
	}
	b, err := CookieSecret(ctx, st, "")
	if err != nil || string(a) != string(b) {
		t.Errorf("second start: %q, %v; want the kept secret %q", b, err, a)
	}
}

// A session store that fails must not sign anyone in.
func TestSessionStoreErrors(t *testing.T) {
	p := newPortal(t, SessionConfig{})
	p.addUser("ada", "user")
	b := p.browser()
	b.login("ada")
	if err := p.st.Close(); err != nil {
		t.Fatal(err)
	}
	code, body := b.do("GET", "/me", nil, nil)
	if code != http.StatusInternalServerError || body == "ada" {
		t.Errorf("closed store: GET /me = %d %q, want 500", code, body)
	}
}

// A session opened under another (the proxy origin's, from a portal
// session) ends when its parent does, at once when both managers share a
// cache (one process) and within the cache's lifetime otherwise; using it
// keeps the parent alive.
func TestSessionUnderParent(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared cache %v", shared), func(t *testing.T) {
			p := newPortal(t, SessionConfig{})
			alice := p.addUser("alice", "user")
			cfg := SessionConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), CookieName: "zoe_proxy"}
			if shared {
				cfg.Cache = p.s.store.cache
			}
			child, err := NewSessions(p.st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			child.now, child.store.now = p.clock.Now, p.clock.Now
			mux := http.NewServeMux()
			mux.HandleFunc("GET /me", whoAmI)
			mux.HandleFunc("GET /take", func(w http.ResponseWriter, r *http.Request) {
				if err := child.LoginUnder(w, r, alice, r.URL.Query().Get("parent")); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			srv := httptest.NewServer(child.Middleware(mux))
			t.Cleanup(srv.Close)
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			get := func(path string) (int, string) {
				t.Helper()
				resp, err := c.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}

			if code, body := get("/take?parent="); code != http.StatusInternalServerError || !strings.Contains(body, "no parent session") {
				t.Errorf("LoginUnder without a parent: got %d %q, want it refused", code, body)
			}
			b := p.browser()
			if h := b.get("/handle"); h != "" {
				t.Errorf("handle of a visitor: got %q, want none", h)
			}
			tok := b.login("alice")
			parent := b.get("/handle")
			if parent == "" || strings.Contains(b.cookie("zoe_session").Value, parent) {
				t.Fatalf("handle %q: want one, unlike the cookie", parent)
			}
			if code, body := get("/take?parent=" + url.QueryEscape(parent)); code != http.StatusOK {
				t.Fatalf("LoginUnder: %d %s", code, body)
			}
			if _, who := get("/me"); who != "alice" {
				t.Fatalf("child session: got %q, want alice", who)
			}

			// Used past its refresh, the child pushes the parent's expiry out.
			before, err := p.st.SessionByID(context.Background(), parent)
			if err != nil {
				t.Fatal(err)
			}
			p.clock.Advance(child.refreshEvery() + time.Second)
			if _, who := get("/me"); who != "alice" {
				t.Fatalf("child session after its refresh: got %q, want alice", who)
			}
			after, err := p.st.SessionByID(context.Background(), parent)
			if err != nil {
				t.Fatal(err)
			}
			if !after.ExpiresAt.After(before.ExpiresAt) {
				t.Errorf("parent expires at %v after the child's use, want later than %v", after.ExpiresAt, before.ExpiresAt)
			}

			if code, body := b.do("POST", "/logout", url.Values{CSRFField: {tok}}, nil); code != http.StatusOK {
				t.Fatalf("logout = %d %s", code, body)
			}
			if !shared {
				p.clock.Advance(2 * sessionCacheLifetime)
			}
			if _, who := get("/me"); who != "anonymous" {
				t.Errorf("child session after signing out of the parent: got %q, want anonymous", who)
			}
		})
	}
}
