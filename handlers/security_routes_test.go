package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secPublic are the only routes visitors may use. A route added to the
// table without a sign-in check makes TestSecurityRoutes fail until it is
// either guarded or listed here, on purpose.
var secPublic = map[string]bool{
	"GET /healthz":             true,
	"GET /readyz":              true,
	"GET /metrics":             true,
	"GET /api/v1/openapi.json": true,
	"GET /":                    true,
	"GET /login":               true,
	"POST /login":              true,
	"POST /logout":             true,
	// Vendored assets, registered for every method (Handle).
	"GET /static/*": true, "POST /static/*": true, "PUT /static/*": true, "PATCH /static/*": true, "DELETE /static/*": true,
}

// secAdminOnly reports the routes of the admins' groups: others get 403.
func secAdminOnly(pattern string) bool {
	for _, p := range []string{"/admin/", "/api/v1/users", "/api/v1/quotas"} {
		if strings.HasPrefix(pattern, p) {
			return true
		}
	}
	return false
}

// secIDParams are the path parameters that name someone's things.
var secIDParams = []string{"{id}", "{service}", "{execution}", "{user}", "{token}", "{quota}"}

func secHasID(pattern string) bool {
	for _, p := range secIDParams {
		if strings.Contains(pattern, p) {
			return true
		}
	}
	return false
}

func secIsPage(pattern string) bool {
	return !strings.HasPrefix(pattern, "/api/v1/") && !strings.HasPrefix(pattern, "/proxy/")
}

// secForms are bodies that would do harm if the request got through.
var secForms = map[string]url.Values{
	"/login":                     {"username": {"bob"}, "password": {portalPassword}},
	"/account/password":          {"current": {portalPassword}, "new": {"hijacked-password-1"}, "confirm": {"hijacked-password-1"}},
	"/account/tokens":            {"name": {"forged"}},
	"/admin/users":               {"username": {"mallory"}, "role": {"admin"}, "quota": {"0"}, "password": {"mallory-password-1"}},
	"/admin/users/{user}":        {"role": {"admin"}, "quota": {"0"}, "enabled": {"on"}, "email": {"forged@example.com"}},
	"/admin/quotas":              {"name": {"forged"}, "memory": {"1"}},
	"/executions/custom":         {"description": {portalWebZApp}},
	"/shop/{zapp}/start":         {"name": {"forged"}},
	"/workspace/mkdir":           {"path": {"/"}, "name": {"forged"}},
	"/workspace/upload":          {"path": {"/"}},
	"/workspace/delete":          {"path": {"/"}},
	"/proxy-login":               {"next": {"/proxy/1/web0/8080/"}},
	"/admin/users/{user}/delete": {},
}

func TestSecurityRoutes(t *testing.T) {
	e := newSecEnv(t)
	routes := secRoutes(t, e.srv)
	for key := range secPublic {
		found := false
		for _, r := range routes {
			found = found || r.String() == key
		}
		if !found {
			t.Errorf("public allow-list names %q, which the route table no longer has", key)
		}
	}
	obj := e.aliceRunning()
	vals := obj.values(e)
	before := e.state()
	unchanged := func(t *testing.T) {
		t.Helper()
		if diff := cmp.Diff(before, e.state()); diff != "" {
			t.Errorf("state changed (-before +after):\n%s", diff)
		}
	}

	t.Run("visitors are refused everywhere but the public routes", func(t *testing.T) {
		v := e.visitor()
		v.get("/login")
		for _, r := range routes {
			if secPublic[r.String()] {
				continue
			}
			path := fill(r.pattern, vals)
			p := v.send(r.method, path, "", http.Header{"X-CSRF-Token": {v.csrf}})
			loc := p.header.Get("Location")
			switch {
			case strings.HasPrefix(r.pattern, "/api/v1/"):
				if p.status != http.StatusUnauthorized || p.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s (%s): got %d, want 401 with WWW-Authenticate", r, path, p.status)
				}
			case strings.HasPrefix(r.pattern, "/proxy/") && r.method != http.MethodGet:
				if p.status != http.StatusUnauthorized {
					t.Errorf("%s (%s): got %d, want 401", r, path, p.status)
				}
			default:
				if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
					t.Errorf("%s (%s): got %d to %q, want 303 to /login", r, path, p.status, loc)
				}
			}
			if secIsPage(r.pattern) && !r.guarded("signedIn") {
				t.Errorf("%s: not behind signedIn (guards %v)", r, r.guards)
			}
		}
		unchanged(t)
	})

	t.Run("CSRF: every unsafe page route refuses forged requests", func(t *testing.T) {
		admin, bob := e.signIn("admin"), e.signIn("bob")
		admin.get("/account")
		bob.get("/account")
		n := 0
		for _, r := range routes {
			if r.method == http.MethodGet || !secIsPage(r.pattern) || r.pattern == "/static/*" {
				continue
			}
			n++
			path := fill(r.pattern, vals)
			form := secForms[r.pattern]
			if form == nil {
				form = url.Values{}
			}
			withToken := func(tok string) string {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				if tok != "" {
					f.Set("csrf_token", tok)
				}
				return f.Encode()
			}
			forged := []struct {
				name   string
				body   string
				header http.Header
			}{
				{"no token", withToken(""), nil},
				{"wrong token", withToken("forged-token"), nil},
				{"wrong token in the header", withToken(""), http.Header{"X-CSRF-Token": {"forged-token"}}},
				{"another session's token", withToken(bob.csrf), nil},
				{"foreign Origin", withToken(admin.csrf), http.Header{"Origin": {"https://evil.example"}}},
				{"foreign Referer", withToken(admin.csrf), http.Header{"Referer": {"https://evil.example/page"}}},
				{"null Origin", withToken(admin.csrf), http.Header{"Origin": {"null"}}},
				// RequireCSRF lets requests with an Authorization header
				// through (API clients); pages act for the cookie's user.
				{"an Authorization header", withToken(""), http.Header{"Authorization": {"Basic eDp5"}, "Origin": {"https://evil.example"}}},
				{"a bearer token", withToken(""), http.Header{"Authorization": {"Bearer " + e.tokens["bob"]}}},
			}
			for _, f := range forged {
				p := admin.send(r.method, path, f.body, f.header)
				if p.status != http.StatusForbidden || !(strings.Contains(p.body, "CSRF") || strings.Contains(p.body, "cross-origin")) {
					t.Errorf("%s (%s) with %s: got %d %q, want 403 from the CSRF check", r, path, f.name, p.status, p.body[:min(len(p.body), 120)])
				}
			}
		}
		if n < 15 {
			t.Errorf("got %d unsafe page routes, want the whole table", n)
		}
		if p := admin.get("/account"); p.status != http.StatusOK {
			t.Errorf("admin's session after the forged requests: got %d, want 200 (still signed in)", p.status)
		}
		unchanged(t)
	})

	t.Run("IDOR: bob reaches none of alice's things", func(t *testing.T) {
		bob, alice, admin := e.signIn("bob"), e.signIn("alice"), e.signIn("admin")
		// The API names users by username, the pages by ID.
		apiVals := obj.values(e)
		apiVals["user"] = "alice"
		n := 0
		for _, r := range routes {
			if !secHasID(r.pattern) {
				continue
			}
			n++
			path := fill(r.pattern, vals)
			if strings.HasPrefix(r.pattern, "/api/v1/") {
				path = fill(r.pattern, apiVals)
			}
			want := http.StatusNotFound
			if secAdminOnly(r.pattern) {
				want = http.StatusForbidden
			}
			var got int
			var body string
			if strings.HasPrefix(r.pattern, "/api/v1/") {
				var b string
				if r.method == http.MethodPost || r.method == http.MethodPatch {
					b = `{}`
				}
				res := e.api("bob", r.method, path, b)
				got, body = res.status, string(res.body)
			} else {
				bob.get("/account")
				var form string
				if r.method != http.MethodGet {
					form = url.Values{"csrf_token": {bob.csrf}}.Encode()
				}
				p := bob.send(r.method, path, form, nil)
				got, body = p.status, p.body
			}
			if got != want {
				t.Errorf("bob %s (%s): got %d, want %d (%.120s)", r, path, got, want, body)
			}

			// The same path works for its owner (or an admin), so the
			// refusal above is about bob, not about a wrong ID.
			if r.method != http.MethodGet {
				continue
			}
			owner := "alice"
			if secAdminOnly(r.pattern) {
				owner = "admin"
			}
			if strings.HasPrefix(r.pattern, "/api/v1/") {
				if res := e.api(owner, r.method, path, ""); res.status != http.StatusOK {
					t.Errorf("%s %s (%s): got %d, want 200 (%.120s)", owner, r, path, res.status, res.body)
				}
				continue
			}
			c := alice
			if owner == "admin" {
				c = admin
			}
			// As HTMX asks, so that fragments answer rather than redirect.
			p := c.htmx(path)
			if p.status != http.StatusOK && !(strings.HasPrefix(r.pattern, "/proxy/") && p.status/100 == 3) {
				t.Errorf("%s %s (%s): got %d, want 200 (%.120s)", owner, r, path, p.status, p.body)
			}
		}
		if n < 20 {
			t.Errorf("got %d ID-bearing routes, want the whole table", n)
		}
		unchanged(t)
	})

	t.Run("roles: guests and users are refused the groups above them", func(t *testing.T) {
		gus, bob := e.signIn("gus"), e.signIn("bob")
		for _, r := range routes {
			path := fill(r.pattern, vals)
			if strings.HasPrefix(r.pattern, "/api/v1/") {
				if secPublic[r.String()] {
					continue
				}
				if res := e.api("gus", r.method, path, ""); res.status != http.StatusForbidden {
					t.Errorf("guest %s: got %d, want 403 (guests have no API)", r, res.status)
				}
				if secAdminOnly(r.pattern) {
					if res := e.api("bob", r.method, path, ""); res.status != http.StatusForbidden {
						t.Errorf("user %s: got %d, want 403", r, res.status)
					}
				}
				continue
			}
			if !secIsPage(r.pattern) {
				continue
			}
			send := func(c *portalClient) page {
				c.get("/account")
				var form string
				if r.method != http.MethodGet {
					form = url.Values{"csrf_token": {c.csrf}}.Encode()
				}
				return c.send(r.method, path, form, nil)
			}
			if r.guarded("requirePage") {
				if p := send(gus); p.status != http.StatusForbidden {
					t.Errorf("guest %s: got %d, want 403", r, p.status)
				}
			}
			if secAdminOnly(r.pattern) {
				if !r.guarded("requirePage") {
					t.Errorf("%s: an admin page without requirePage (guards %v)", r, r.guards)
				}
				if p := send(bob); p.status != http.StatusForbidden {
					t.Errorf("user %s: got %d, want 403", r, p.status)
				}
			}
		}
		unchanged(t)
	})
}
