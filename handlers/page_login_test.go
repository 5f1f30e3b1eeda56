package handlers

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

func TestLocalPath(t *testing.T) {
	tests := []struct{ next, want string }{
		{"", "/shop"},
		{"/executions/3", "/executions/3"},
		{"/executions?status=running", "/executions?status=running"},
		{"//evil.example/x", "/shop"},
		{"https://evil.example/", "/shop"},
		{"/\\evil.example", "/shop"},
		{"evil", "/shop"},
		{"/login", "/shop"},
		{"/ok\r\nSet-Cookie: x", "/shop"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			if got := localPath(tt.next); got != tt.want {
				t.Errorf("localPath(%q) = %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}

func TestPortalSignIn(t *testing.T) {
	e := newPortalEnv(t)
	disabled := e.addUser("dora", "user")
	disabled.Enabled = false
	if err := e.st.UpdateUser(context.Background(), disabled); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		user, pw string
		next     string
		status   int
		location string
		errText  string
	}{
		{name: "right password", user: "alice", pw: portalPassword, status: http.StatusSeeOther, location: "/shop"},
		{name: "back to where they were", user: "alice", pw: portalPassword, next: "/executions?status=running", status: http.StatusSeeOther, location: "/executions?status=running"},
		{name: "never to another site", user: "alice", pw: portalPassword, next: "//evil.example/", status: http.StatusSeeOther, location: "/shop"},
		{name: "wrong password", user: "alice", pw: "nope", status: http.StatusUnauthorized, errText: "Wrong username or password."},
		{name: "unknown user", user: "mallory", pw: "nope", status: http.StatusUnauthorized, errText: "Wrong username or password."},
		{name: "empty", user: "", pw: "", status: http.StatusUnprocessableEntity, errText: "Enter your username and password."},
		{name: "disabled", user: "dora", pw: portalPassword, status: http.StatusForbidden, errText: "This account is disabled. Ask an administrator."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.visitor()
			form := c.get("/login?next=" + url.QueryEscape(tt.next))
			if got, _ := form.doc.Find("input[name=next]").Attr("value"); got != tt.next {
				t.Errorf("next field: got %q, want %q", got, tt.next)
			}
			p := c.post("/login", url.Values{"username": {tt.user}, "password": {tt.pw}, "next": {tt.next}})
			if p.status != tt.status {
				t.Fatalf("got %d, want %d", p.status, tt.status)
			}
			if got := p.header.Get("Location"); got != tt.location {
				t.Errorf("Location: got %q, want %q", got, tt.location)
			}
			if got := p.text("[data-testid=login-error]"); got != tt.errText {
				t.Errorf("error: got %q, want %q", got, tt.errText)
			}
			if tt.errText != "" {
				if got, _ := p.doc.Find("[data-testid=username]").Attr("value"); got != tt.user {
					t.Errorf("username kept: got %q, want %q", got, tt.user)
				}
			}
		})
	}

	t.Run("visitors go to sign-in, then back", func(t *testing.T) {
		c := e.visitor()
		for path, want := range map[string]string{"/": "/login", "/shop": "/login?next=%2Fshop", "/admin/users": "/login?next=%2Fadmin%2Fusers"} {
			if p := c.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != want {
				t.Errorf("GET %s: got %d to %q, want 303 to %q", path, p.status, p.header.Get("Location"), want)
			}
		}
	})

	t.Run("home is the signed-in user's start page", func(t *testing.T) {
		c := e.signIn("alice")
		if p := c.get("/"); p.status != http.StatusOK || !p.has("[data-testid=running]") {
			t.Errorf("GET /: got %d to %q, want 200 with the running list", p.status, p.header.Get("Location"))
		}
	})

	t.Run("sign out ends the session", func(t *testing.T) {
		c := e.signIn("bob")
		if p := c.post("/logout", url.Values{"csrf_token": {""}}); p.status != http.StatusForbidden {
			t.Errorf("sign out without CSRF token: got %d, want 403", p.status)
		}
		if p := c.post("/logout", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login" {
			t.Errorf("sign out: got %d to %q", p.status, p.header.Get("Location"))
		}
		if p := c.get("/shop"); p.status != http.StatusSeeOther {
			t.Errorf("after sign out GET /shop: got %d, want 303 to sign-in", p.status)
		}
	})

	t.Run("the sign-in form needs its CSRF token", func(t *testing.T) {
		c := e.visitor()
		c.get("/login")
		p := c.post("/login", url.Values{"username": {"alice"}, "password": {portalPassword}, "csrf_token": {""}})
		if p.status != http.StatusForbidden {
			t.Errorf("got %d, want 403", p.status)
		}
	})
}
