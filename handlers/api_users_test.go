package handlers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

func apiFieldList(eb apiErrorBody) []string {
	var got []string
	for _, f := range eb.Error.Fields {
		got = append(got, f.Field)
	}
	return got
}

func TestAPIMeAndTokens(t *testing.T) {
	e := newAPIEnv(t)
	t.Run("me", func(t *testing.T) {
		var me struct {
			User  apiUserJSON  `json:"user"`
			Role  string       `json:"role"`
			Quota apiQuotaJSON `json:"quota"`
			Usage struct {
				Executions int `json:"executions"`
			} `json:"usage"`
			Capabilities []string `json:"capabilities"`
		}
		e.do("alice", "GET", "/api/v1/me", nil).json(t, &me)
		if me.User.Username != "alice" || me.Role != "user" || me.Quota.Name != store.DefaultQuota || me.Usage.Executions != 0 {
			t.Errorf("got %+v, want alice, user, the default quota, no usage", me)
		}
		if slices.Contains(me.Capabilities, "manage users and quotas") || len(me.Capabilities) == 0 {
			t.Errorf("got capabilities %v, want a user's", me.Capabilities)
		}
	})
	var created struct {
		Token  apiTokenJSON `json:"token"`
		Secret string       `json:"secret"`
	}
	t.Run("create", func(t *testing.T) {
		r := e.do("alice", "POST", "/api/v1/me/tokens", `{"name": "laptop"}`)
		if r.status != http.StatusCreated {
			t.Fatalf("got status %d, want 201 (body %s)", r.status, r.body)
		}
		r.json(t, &created)
		if !strings.HasPrefix(created.Secret, "zoe_") || created.Token.Name != "laptop" {
			t.Fatalf("got %+v, want a zoe_ secret for laptop", created)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		apiExpectError(t, e.do("alice", "POST", "/api/v1/me/tokens", `{"name": "laptop"}`), http.StatusConflict, "conflict", "name")
		eb := apiExpectError(t, e.do("alice", "POST", "/api/v1/me/tokens", `{"name": " ", "expires_at": "2001-01-01T00:00:00Z"}`), http.StatusUnprocessableEntity, "validation", "name")
		if diff := cmp.Diff([]string{"name", "expires_at"}, apiFieldList(eb)); diff != "" {
			t.Errorf("fields (-want +got):\n%s", diff)
		}
		apiExpectError(t, e.do("alice", "POST", "/api/v1/me/tokens", `{"name": "x", "scope": "all"}`), http.StatusBadRequest, "bad_request", "scope")
		apiExpectError(t, e.do("alice", "DELETE", "/api/v1/me/tokens/999999", nil), http.StatusNotFound, "not_found", "")
	})
	t.Run("the new token works and is listed without its secret", func(t *testing.T) {
		e.tokens["alice-laptop"] = created.Secret
		r := e.do("alice-laptop", "GET", "/api/v1/me/tokens", nil)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", r.status)
		}
		if strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), "hash") {
			t.Errorf("the token list shows a secret or hash: %s", r.body)
		}
		var l struct {
			Tokens []apiTokenJSON `json:"tokens"`
		}
		r.json(t, &l)
		if len(l.Tokens) != 2 || l.Tokens[0].Name != "laptop" || l.Tokens[0].LastUsedAt == nil {
			t.Errorf("got tokens %+v, want laptop (just used) and test", l.Tokens)
		}
	})
	t.Run("others' tokens are 404", func(t *testing.T) {
		apiExpectError(t, e.do("bob", "DELETE", "/api/v1/me/tokens/"+apiItoa(created.Token.ID), nil), http.StatusNotFound, "not_found", "")
	})
	t.Run("revoke", func(t *testing.T) {
		if r := e.do("alice", "DELETE", "/api/v1/me/tokens/"+apiItoa(created.Token.ID), nil); r.status != http.StatusNoContent {
			t.Fatalf("got status %d, want 204", r.status)
		}
		apiExpectError(t, e.do("alice-laptop", "GET", "/api/v1/me", nil), http.StatusUnauthorized, "unauthorized", "")
	})
}

func TestAPIUsers(t *testing.T) {
	e := newAPIEnv(t)
	t.Run("create", func(t *testing.T) {
		r := e.do("admin", "POST", "/api/v1/users", `{"username": "dora", "password": "pw-of-dora", "role": "user", "email": "dora@example.org"}`)
		if r.status != http.StatusCreated || r.header.Get("Location") != "/api/v1/users/dora" {
			t.Fatalf("got %d %q, want 201 at /api/v1/users/dora (body %s)", r.status, r.header.Get("Location"), r.body)
		}
		var u apiUserJSON
		r.json(t, &u)
		if u.Username != "dora" || u.Role != "user" || !u.Enabled || u.Source != "builtin" || u.Quota != "default" {
			t.Errorf("got %+v, want dora, an enabled built-in user on the default quota", u)
		}
	})
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"duplicate", "POST", "/api/v1/users", `{"username": "dora", "password": "x"}`, 409, "conflict", nil},
		{"every field error", "POST", "/api/v1/users", `{"username": "../x", "role": "root", "email": "nope", "fs_uid": -1, "quota": "gold"}`, 422, "validation",
			[]string{"username", "password", "role", "email", "fs_uid", "quota"}},
		{"unknown field", "POST", "/api/v1/users", `{"username": "eve", "password": "x", "admin": true}`, 400, "bad_request", nil},
		{"unknown user", "GET", "/api/v1/users/nobody", ``, 404, "not_found", nil},
		{"patch unknown user", "PATCH", "/api/v1/users/nobody", `{}`, 404, "not_found", nil},
		{"rename", "PATCH", "/api/v1/users/dora", `{"username": "dorothy"}`, 422, "validation", []string{"username"}},
		{"own role", "PATCH", "/api/v1/users/admin", `{"role": "user", "enabled": false}`, 422, "validation", []string{"role", "enabled"}},
		{"delete self", "DELETE", "/api/v1/users/admin", ``, 409, "self", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := apiExpectError(t, e.do("admin", tt.method, tt.path, tt.body), tt.status, tt.code, "")
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, apiFieldList(eb)); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("update", func(t *testing.T) {
		if r := e.do("admin", "POST", "/api/v1/quotas", `{"name": "gold", "concurrent_executions": 5}`); r.status != http.StatusCreated {
			t.Fatalf("create quota: got %d (body %s)", r.status, r.body)
		}
		r := e.do("admin", "PATCH", "/api/v1/users/dora", `{"role": "admin", "quota": "gold", "password": "new-pw-of-dora"}`)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200 (body %s)", r.status, r.body)
		}
		var u apiUserJSON
		e.do("admin", "GET", "/api/v1/users/dora", nil).json(t, &u)
		if u.Role != "admin" || u.Quota != "gold" || u.Email != "dora@example.org" {
			t.Errorf("got %+v, want an admin on gold keeping her e-mail", u)
		}
		req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/me", nil)
		req.SetBasicAuth("dora", "new-pw-of-dora")
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("sign-in with the new password: got %d, want 200", resp.StatusCode)
		}
	})
	t.Run("list", func(t *testing.T) {
		var l struct {
			Users []apiUserJSON `json:"users"`
		}
		e.do("admin", "GET", "/api/v1/users", nil).json(t, &l)
		var names []string
		for _, u := range l.Users {
			names = append(names, u.Username)
		}
		if diff := cmp.Diff([]string{"admin", "alice", "bob", "dora", "gus"}, names); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if r := e.do("admin", "DELETE", "/api/v1/users/dora", nil); r.status != http.StatusNoContent {
			t.Fatalf("got status %d, want 204", r.status)
		}
		apiExpectError(t, e.do("admin", "GET", "/api/v1/users/dora", nil), http.StatusNotFound, "not_found", "")
	})
}

func TestAPIQuotas(t *testing.T) {
	e := newAPIEnv(t)
	r := e.do("admin", "POST", "/api/v1/quotas", `{"name": "big", "concurrent_executions": 3, "memory": "8GiB", "cores": 4, "runtime_limit": "12h"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: got status %d, want 201 (body %s)", r.status, r.body)
	}
	var q apiQuotaJSON
	r.json(t, &q)
	want := apiQuotaJSON{ID: q.ID, Name: "big", ConcurrentExecutions: 3, Memory: 8 << 30, MemoryHuman: "8 GiB", Cores: 4, RuntimeLimit: 12 * 3600, RuntimeLimitHuman: "12h0m0s"}
	if diff := cmp.Diff(want, q); diff != "" {
		t.Errorf("created quota (-want +got):\n%s", diff)
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
		fields []string
	}{
		{"duplicate", "POST", "/api/v1/quotas", `{"name": "big"}`, 409, "conflict", nil},
		{"every field error", "POST", "/api/v1/quotas", `{"name": "9 lives", "concurrent_executions": -1, "memory": "much", "cores": -2, "runtime_limit": "forever"}`, 422, "validation",
			[]string{"name", "concurrent_executions", "memory", "cores", "runtime_limit"}},
		{"missing name", "POST", "/api/v1/quotas", `{"memory": 1073741824}`, 422, "validation", []string{"name"}},
		{"rename default", "PATCH", "/api/v1/quotas/default", `{"name": "other"}`, 422, "validation", []string{"name"}},
		{"rename onto another", "PATCH", "/api/v1/quotas/big", `{"name": "default"}`, 409, "conflict", nil},
		{"delete default", "DELETE", "/api/v1/quotas/default", ``, 409, "default_quota", nil},
		{"unknown", "PATCH", "/api/v1/quotas/nope", `{}`, 404, "not_found", nil},
		{"unknown id", "DELETE", "/api/v1/quotas/99999", ``, 404, "not_found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := apiExpectError(t, e.do("admin", tt.method, tt.path, tt.body), tt.status, tt.code, "")
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, apiFieldList(eb)); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("update by id", func(t *testing.T) {
		r := e.do("admin", "PATCH", "/api/v1/quotas/"+apiItoa(q.ID), `{"memory": 0, "runtime_limit": 3600}`)
		var got apiQuotaJSON
		r.json(t, &got)
		if r.status != http.StatusOK || got.Memory != 0 || got.MemoryHuman != "unlimited" || got.RuntimeLimit != 3600 || got.ConcurrentExecutions != 3 {
			t.Errorf("got %d %+v, want unlimited memory, one hour, 3 executions kept", r.status, got)
		}
	})
	t.Run("the default quota applies to alice", func(t *testing.T) {
		if r := e.do("admin", "PATCH", "/api/v1/quotas/default", `{"concurrent_executions": 7}`); r.status != http.StatusOK {
			t.Fatalf("got status %d (body %s)", r.status, r.body)
		}
		var me struct {
			Quota apiQuotaJSON `json:"quota"`
		}
		e.do("alice", "GET", "/api/v1/me", nil).json(t, &me)
		if me.Quota.ConcurrentExecutions != 7 {
			t.Errorf("got %d concurrent executions, want 7", me.Quota.ConcurrentExecutions)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if r := e.do("admin", "DELETE", "/api/v1/quotas/big", nil); r.status != http.StatusNoContent {
			t.Fatalf("got status %d, want 204", r.status)
		}
		qs, err := e.st.ListQuotas(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 1 {
			t.Errorf("got %d quotas, want only the default", len(qs))
		}
	})
}
