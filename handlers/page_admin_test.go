package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

func TestPortalAccount(t *testing.T) {
	e := newPortalEnv(t)

	t.Run("tokens: the secret once, then a row", func(t *testing.T) {
		c := e.signIn("alice")
		p := c.post("/account/tokens", url.Values{"name": {"laptop <b>"}})
		if p.status != http.StatusOK {
			t.Fatalf("create: got %d", p.status)
		}
		secret := p.doc.Find("[data-testid=token-secret]").AttrOr("value", "")
		if !strings.HasPrefix(secret, "zoe_") {
			t.Fatalf("secret: got %q", secret)
		}
		p = c.get("/account")
		if strings.Contains(p.body, secret) {
			t.Errorf("the secret is shown again")
		}
		if got := p.text("[data-testid=token-row] td:first-child"); got != "laptop <b>" {
			t.Errorf("token row: got %q", got)
		}
		if p := c.post("/account/tokens", url.Values{"name": {"laptop <b>"}}); p.status != http.StatusConflict || p.text("#token-name-error") == "" {
			t.Errorf("same name again: got %d %q", p.status, p.text("#token-name-error"))
		}
		toks, _ := e.st.ListTokens(context.Background(), e.users["alice"].ID)
		if len(toks) != 1 {
			t.Fatalf("tokens: got %d", len(toks))
		}
		bob := e.signIn("bob")
		if p := bob.post(fmt.Sprintf("/account/tokens/%d/delete", toks[0].ID), nil); p.status != http.StatusNotFound {
			t.Errorf("another user revokes it: got %d, want 404", p.status)
		}
		if p := c.post(fmt.Sprintf("/account/tokens/%d/delete", toks[0].ID), nil); p.status != http.StatusSeeOther {
			t.Errorf("revoke: got %d", p.status)
		}
		if toks, _ := e.st.ListTokens(context.Background(), e.users["alice"].ID); len(toks) != 0 {
			t.Errorf("token still there")
		}
	})

	t.Run("guests have no tokens", func(t *testing.T) {
		c := e.signIn("gus")
		if p := c.get("/account"); p.has("[data-testid=token-form]") {
			t.Errorf("guest sees the token form")
		}
		if p := c.post("/account/tokens", url.Values{"name": {"x"}}); p.status != http.StatusForbidden {
			t.Errorf("guest creates a token: got %d, want 403", p.status)
		}
	})

	t.Run("password change errors beside fields", func(t *testing.T) {
		c := e.signIn("bob")
		tests := []struct {
			name  string
			form  url.Values
			field string
		}{
			{"wrong current", url.Values{"current": {"nope"}, "new": {"new-password-1"}, "confirm": {"new-password-1"}}, "#current-error"},
			{"too short", url.Values{"current": {portalPassword}, "new": {"short"}, "confirm": {"short"}}, "#new-error"},
			{"differ", url.Values{"current": {portalPassword}, "new": {"new-password-1"}, "confirm": {"new-password-2"}}, "#confirm-error"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := c.post("/account/password", tt.form)
				if p.status != http.StatusUnprocessableEntity || p.text(tt.field) == "" {
					t.Errorf("got %d, error %q beside %s", p.status, p.text(tt.field), tt.field)
				}
			})
		}
		other := e.signIn("bob")
		p := c.post("/account/password", url.Values{"current": {portalPassword}, "new": {"new-password-1"}, "confirm": {"new-password-1"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("change: got %d", p.status)
		}
		if p := c.get("/account"); p.status != http.StatusOK {
			t.Errorf("this browser was signed out: %d", p.status)
		}
		if p := other.get("/account"); p.status != http.StatusSeeOther {
			t.Errorf("the other session still works: %d", p.status)
		}
	})
}

func TestPortalAdmin(t *testing.T) {
	e := newPortalEnv(t)
	admin := e.signIn("admin")

	t.Run("only admins", func(t *testing.T) {
		alice := e.signIn("alice")
		for _, path := range []string{"/admin/status", "/admin/users", "/admin/quotas", fmt.Sprintf("/admin/users/%d", e.users["bob"].ID)} {
			if p := alice.get(path); p.status != http.StatusForbidden {
				t.Errorf("user GET %s: got %d, want 403", path, p.status)
			}
		}
		if p := alice.post("/admin/users", url.Values{"username": {"x"}, "role": {"admin"}, "quota": {"0"}, "password": {"password-1"}}); p.status != http.StatusForbidden {
			t.Errorf("user creates an admin: got %d", p.status)
		}
	})

	t.Run("platform", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		var p page
		for {
			p = admin.get("/admin/status")
			if p.text("[data-host=h1] [data-testid=host-state]") == "online" || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got := p.text("[data-host=h1] [data-testid=host-state]"); got != "online" {
			t.Errorf("host h1: got %q", got)
		}
		if got := p.text("[data-host=h1] [data-testid=host-memory]"); !strings.Contains(got, "0 B reserved") {
			t.Errorf("host memory: got %q", got)
		}
		if !p.has("[data-testid=queue-empty]") {
			t.Errorf("queue: %s", p.text("[data-testid=queue]"))
		}
		frag := admin.htmx("/admin/status")
		if frag.has("header.site") || !frag.has("#platform") {
			t.Errorf("htmx platform: not a fragment")
		}
	})

	t.Run("users", func(t *testing.T) {
		admin.get("/admin/users")
		tests := []struct {
			name   string
			form   url.Values
			status int
			field  string
		}{
			{"bad username", url.Values{"username": {"<x>"}, "role": {"user"}, "quota": {"0"}, "password": {"password-1"}}, http.StatusUnprocessableEntity, "#new-username-error"},
			{"taken", url.Values{"username": {"alice"}, "role": {"user"}, "quota": {"0"}, "password": {"password-1"}}, http.StatusConflict, "#new-username-error"},
			{"bad role", url.Values{"username": {"erin"}, "role": {"root"}, "quota": {"0"}, "password": {"password-1"}}, http.StatusUnprocessableEntity, "#new-role-error"},
			{"short password", url.Values{"username": {"erin"}, "role": {"user"}, "quota": {"0"}, "password": {"x"}}, http.StatusUnprocessableEntity, "#new-password-error"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := admin.post("/admin/users", tt.form)
				if p.status != tt.status || p.text(tt.field) == "" {
					t.Errorf("got %d, error %q; want %d with an error beside %s", p.status, p.text(tt.field), tt.status, tt.field)
				}
				if got := p.doc.Find("#new-username").AttrOr("value", ""); got != tt.form.Get("username") {
					t.Errorf("username kept: got %q", got)
				}
			})
		}
		p := admin.post("/admin/users", url.Values{"username": {"erin"}, "email": {"erin@example.org"}, "role": {"user"}, "quota": {"0"}, "password": {"password-1"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("create: got %d %s", p.status, p.text("[data-testid=field-error]"))
		}
		erin, err := e.st.UserByName(context.Background(), "erin")
		if err != nil || erin.Role != "user" || !erin.Enabled {
			t.Fatalf("erin: %+v, %v", erin, err)
		}
		erinC := e.visitor()
		erinC.get("/login")
		if p := erinC.post("/login", url.Values{"username": {"erin"}, "password": {"password-1"}}); p.status != http.StatusSeeOther {
			t.Fatalf("erin signs in: got %d", p.status)
		}

		userPath := fmt.Sprintf("/admin/users/%d", erin.ID)
		admin.get(userPath)
		if p := admin.post(userPath, url.Values{"action": {"update"}, "role": {"guest"}, "quota": {"0"}, "email": {"e@example.org"}}); p.status != http.StatusSeeOther {
			t.Fatalf("disable: got %d", p.status)
		}
		erin, _ = e.st.UserByID(context.Background(), erin.ID)
		if erin.Enabled || erin.Role != "guest" || erin.Email != "e@example.org" {
			t.Errorf("after edit: %+v", erin)
		}
		if p := erinC.get("/shop"); p.status != http.StatusSeeOther {
			t.Errorf("disabled user still signed in: GET /shop %d", p.status)
		}

		self := fmt.Sprintf("/admin/users/%d", e.users["admin"].ID)
		if p := admin.post(self, url.Values{"action": {"update"}, "role": {"user"}, "quota": {"0"}, "enabled": {"1"}}); p.status != http.StatusUnprocessableEntity || p.text("#edit-role-error") == "" {
			t.Errorf("admin demotes themself: got %d", p.status)
		}
		if p := admin.post(userPath, url.Values{"action": {"password"}, "password": {"another-pass-1"}}); p.status != http.StatusSeeOther {
			t.Errorf("reset password: got %d", p.status)
		}
		if p := admin.post(userPath+"/delete", nil); p.status != http.StatusSeeOther {
			t.Errorf("delete: got %d", p.status)
		}
		if _, err := e.st.UserByID(context.Background(), erin.ID); err == nil {
			t.Errorf("erin still there")
		}
		if p := admin.post(self+"/delete", nil); p.status != http.StatusConflict {
			t.Errorf("admin deletes themself: got %d", p.status)
		}
	})

	t.Run("quotas", func(t *testing.T) {
		admin.get("/admin/quotas")
		if p := admin.post("/admin/quotas", url.Values{"name": {"teaching"}, "executions": {"2"}, "memory": {"x"}}); p.status != http.StatusUnprocessableEntity || p.text("[data-testid=form-error]") == "" {
			t.Errorf("bad number: got %d", p.status)
		}
		p := admin.post("/admin/quotas", url.Values{"name": {"teaching"}, "executions": {"2"}, "memory": {"1.5"}, "cores": {"2"}, "runtime": {"4"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("create: got %d %s", p.status, p.text("[data-testid=form-error]"))
		}
		q, err := e.st.QuotaByName(context.Background(), "teaching")
		if err != nil {
			t.Fatal(err)
		}
		want := store.Quota{ID: q.ID, Name: "teaching", ConcurrentExecutions: 2, Memory: 3 << 29, MilliCores: 2000, RuntimeLimit: 4 * time.Hour}
		if q != want {
			t.Errorf("quota: got %+v, want %+v", q, want)
		}
		if p := admin.post("/admin/quotas", url.Values{"id": {fmt.Sprint(q.ID)}, "name": {"teaching"}, "executions": {"3"}, "memory": {"0"}}); p.status != http.StatusSeeOther {
			t.Errorf("edit: got %d", p.status)
		}
		if q, _ := e.st.QuotaByID(context.Background(), q.ID); q.ConcurrentExecutions != 3 || q.Memory != 0 {
			t.Errorf("after edit: %+v", q)
		}
		if p := admin.post("/admin/quotas", url.Values{"name": {"teaching"}}); p.status != http.StatusConflict {
			t.Errorf("taken name: got %d", p.status)
		}
		p = admin.get("/admin/quotas")
		if got := p.doc.Find("[data-quota=teaching] input[name=memory]").AttrOr("value", ""); got != "0" {
			t.Errorf("listed memory: got %q", got)
		}
	})
}
