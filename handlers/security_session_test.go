package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSecuritySessionFixation plants cookies in a browser before its user
// signs in through POST /login: none of them is worth anything after.
func TestSecuritySessionFixation(t *testing.T) {
	e := newSecEnv(t)
	base, err := url.Parse(e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	cookie := func(c *portalClient, name string) *http.Cookie {
		t.Helper()
		for _, ck := range c.c.Jar.Cookies(base) {
			if ck.Name == name {
				return &http.Cookie{Name: ck.Name, Value: ck.Value}
			}
		}
		return nil
	}
	// who is the user a browser holding cookies is signed in as ("" for
	// nobody).
	who := func(cookies ...*http.Cookie) string {
		t.Helper()
		c := e.visitor()
		c.c.Jar.SetCookies(base, cookies)
		p := c.get("/account")
		if p.status != http.StatusOK {
			return ""
		}
		f := strings.Fields(p.text("[data-testid=account-link]"))
		if len(f) == 0 {
			t.Fatalf("account page without the account link: %.200s", p.body)
		}
		return f[0]
	}
	// victim signs in as alice in a browser holding planted cookies.
	victim := func(planted ...*http.Cookie) *portalClient {
		t.Helper()
		c := e.visitor()
		c.c.Jar.SetCookies(base, planted)
		c.get("/login")
		if c.csrf == "" {
			c.get("/account") // a planted session shows its own token
		}
		p := c.post("/login", url.Values{"username": {"alice"}, "password": {portalPassword}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("sign in: got %d, want 303", p.status)
		}
		return c
	}

	t.Run("the attacker's visitor cookies", func(t *testing.T) {
		attacker := e.visitor()
		attacker.get("/login")
		csrfCookie, token := cookie(attacker, "zoe_session_csrf"), attacker.csrf
		if csrfCookie == nil || token == "" {
			t.Fatalf("a visitor got no CSRF cookie and token")
		}
		v := victim(csrfCookie)
		if got := who(cookie(v, "zoe_session")); got != "alice" {
			t.Fatalf("victim: got %q, want alice", got)
		}
		if got := who(csrfCookie); got != "" {
			t.Errorf("the planted cookie signs in %q, want nobody", got)
		}
		// The token the attacker knows does not act for alice.
		v.csrf = token
		if p := v.post("/logout", nil); p.status != http.StatusForbidden {
			t.Errorf("logout with the attacker's token: got %d, want 403", p.status)
		}
	})

	t.Run("a session ID of the attacker's choosing", func(t *testing.T) {
		planted := &http.Cookie{Name: "zoe_session", Value: "attacker-chosen-session-id"}
		v := victim(planted)
		got := cookie(v, "zoe_session")
		if got == nil || got.Value == planted.Value {
			t.Fatalf("session cookie after sign-in: got %v, want a new one", got)
		}
		if who(planted) != "" {
			t.Errorf("the planted value signs someone in")
		}
	})

	t.Run("the attacker's own signed-in session", func(t *testing.T) {
		bob := e.signIn("bob")
		planted := cookie(bob, "zoe_session")
		v := victim(planted)
		got := cookie(v, "zoe_session")
		if got == nil || got.Value == planted.Value {
			t.Fatalf("session cookie after sign-in: got %v, want a new one", got)
		}
		if w := who(got); w != "alice" {
			t.Errorf("victim: got %q, want alice", w)
		}
		if w := who(planted); w == "alice" {
			t.Errorf("the attacker's cookie now signs in alice")
		}
	})
}

// TestSecurityPathTraversal asks for files outside the shop and the
// static assets through encoded and plain dot segments.
func TestSecurityPathTraversal(t *testing.T) {
	e := newSecEnv(t)
	bob := e.signIn("bob")
	for _, path := range []string{
		"/shop/..%2f..%2fetc/logo",
		"/shop/..%2F..%2F..%2F..%2Fetc%2Fpasswd/logo",
		"/shop/%2e%2e/logo",
		"/shop/web-0%2f..%2f..%2fmanifest.json/logo",
		"/shop/web-0%2F..%2Fweb.json/logo",
		"/shop/web-0/../../../etc/passwd",
		"/shop/web-0/logo/../../../go.mod",
		"/shop/web-0%00/logo",
		"/shop/web-1/logo", // admins only
		"/static/..%2f..%2fgo.mod",
		"/static/%2e%2e/handlers/routes.go",
		"/static/../../go.mod",
		"/static/..%5c..%5cgo.mod",
		"/static//etc/passwd",
	} {
		req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Opaque keeps the path exactly as written: no cleaning, no
		// re-encoding.
		req.URL.Opaque = path
		p := bob.do(req)
		if p.status != http.StatusNotFound && p.status != http.StatusBadRequest {
			t.Errorf("GET %s: got %d, want 404 or 400 (%.100s)", path, p.status, p.body)
		}
		for _, secret := range []string{"module github.com", "root:", `"zapps"`, `"services"`, "<svg", "package handlers"} {
			if strings.Contains(p.body, secret) {
				t.Errorf("GET %s: the answer holds %q", path, secret)
			}
		}
	}
	if p := bob.get("/shop/web-0/logo"); p.status != http.StatusOK || !strings.Contains(p.body, "<svg") {
		t.Errorf("the logo itself: got %d, want 200 with the SVG", p.status)
	}
}
