package handlers

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"

	"github.com/zoe-analytics/zoe/zapp"
)

func TestAPIAuthentication(t *testing.T) {
	e := newAPIEnv(t)
	basic := func(user, pw string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, pw) }
	}
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	tests := []struct {
		name   string
		set    func(*http.Request)
		status int
		code   string
	}{
		{"no credentials", func(*http.Request) {}, http.StatusUnauthorized, "unauthorized"},
		{"unknown token", bearer("zoe_nope"), http.StatusUnauthorized, "unauthorized"},
		{"wrong password", basic("alice", "wrong"), http.StatusUnauthorized, "unauthorized"},
		{"guest token", bearer(e.tokens["gus"]), http.StatusForbidden, "forbidden"},
		{"guest password", basic("gus", apiPassword), http.StatusForbidden, "forbidden"},
		{"user token", bearer(e.tokens["alice"]), http.StatusOK, ""},
		{"user password", basic("alice", apiPassword), http.StatusOK, ""},
		{"admin token", bearer(e.tokens["admin"]), http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/me", nil)
			tt.set(req)
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("got WWW-Authenticate %q, want a Bearer challenge", resp.Header.Get("WWW-Authenticate"))
			}
			if tt.code != "" {
				var eb apiErrorBody
				if err := apiDecodeResponse(resp, &eb); err != nil {
					t.Fatal(err)
				}
				if eb.Error.Code != tt.code {
					t.Errorf("got code %q, want %q", eb.Error.Code, tt.code)
				}
			}
		})
	}
}

// TestAPIRoles is every /api/v1 route for each role: who gets in and who
// is refused before the handler runs.
func TestAPIRoles(t *testing.T) {
	e := newAPIEnv(t)
	adminOnly := []struct{ method, path string }{
		{"GET", "/api/v1/users"}, {"POST", "/api/v1/users"}, {"GET", "/api/v1/users/alice"},
		{"PATCH", "/api/v1/users/alice"}, {"DELETE", "/api/v1/users/bob"},
		{"GET", "/api/v1/quotas"}, {"POST", "/api/v1/quotas"}, {"PATCH", "/api/v1/quotas/default"}, {"DELETE", "/api/v1/quotas/default"},
	}
	for _, rt := range adminOnly {
		t.Run("user "+rt.method+" "+rt.path, func(t *testing.T) {
			apiExpectError(t, e.do("alice", rt.method, rt.path, "{}"), http.StatusForbidden, "forbidden", "")
		})
	}
	everyone := []string{"/api/v1/info", "/api/v1/shop", "/api/v1/executions", "/api/v1/scheduler", "/api/v1/me", "/api/v1/me/tokens"}
	for _, p := range everyone {
		for _, who := range []string{"alice", "admin"} {
			t.Run(who+" GET "+p, func(t *testing.T) {
				if r := e.do(who, "GET", p, nil); r.status != http.StatusOK {
					t.Errorf("got status %d, want 200 (body %s)", r.status, r.body)
				}
			})
		}
		t.Run("guest GET "+p, func(t *testing.T) {
			apiExpectError(t, e.do("gus", "GET", p, nil), http.StatusForbidden, "forbidden", "")
		})
	}
	t.Run("unknown endpoint", func(t *testing.T) {
		apiExpectError(t, e.do("alice", "GET", "/api/v1/nope", nil), http.StatusNotFound, "not_found", "")
	})
	t.Run("openapi is public", func(t *testing.T) {
		r := e.do("", "GET", "/api/v1/openapi.json", nil)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", r.status)
		}
	})
}

func TestAPIInfoAndShop(t *testing.T) {
	e := newAPIEnv(t)
	t.Run("info", func(t *testing.T) {
		var info map[string]any
		e.do("alice", "GET", "/api/v1/info", nil).json(t, &info)
		want := map[string]any{"version": "test", "api_version": "v1", "deployment": e.dep, "zapp_format_version": float64(zapp.FormatVersion)}
		for k, v := range want {
			if info[k] != v {
				t.Errorf("got %s %v, want %v", k, info[k], v)
			}
		}
	})
	list := func(who string) []string {
		var out struct {
			ZApps []apiZAppJSON `json:"zapps"`
		}
		e.do(who, "GET", "/api/v1/shop", nil).json(t, &out)
		var ids []string
		for _, z := range out.ZApps {
			ids = append(ids, z.ID)
		}
		return ids
	}
	t.Run("shop filtered by role", func(t *testing.T) {
		if got := list("alice"); strings.Join(got, ",") != "web-0" {
			t.Errorf("user: got %v, want [web-0]", got)
		}
		if got := list("admin"); len(got) != 2 {
			t.Errorf("admin: got %v, want both ZApps", got)
		}
	})
	t.Run("zapp detail", func(t *testing.T) {
		r := e.do("alice", "GET", "/api/v1/shop/web-0", nil)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", r.status)
		}
		var z struct {
			Parameters []apiParameterJSON `json:"parameters"`
			Services   []apiZAppService   `json:"services"`
		}
		r.json(t, &z)
		if len(z.Parameters) != 2 || z.Parameters[0].Key != "GREETING" || z.Parameters[1].Key != "web.count" {
			t.Fatalf("got parameters %+v, want GREETING and web.count", z.Parameters)
		}
		if p := z.Parameters[1]; p.Min == nil || *p.Min != 1 || *p.Max != 3 || *p.Step != 1 {
			t.Errorf("got integer bounds %v %v %v, want 1 3 1", p.Min, p.Max, p.Step)
		}
		if z.Parameters[0].Min != nil {
			t.Errorf("string parameter got min %v, want none", *z.Parameters[0].Min)
		}
		if len(z.Services) != 1 || z.Services[0].Memory.Min != 32<<20 || z.Services[0].Memory.MinHuman != "32 MiB" || z.Services[0].Cores.Min != 0.1 {
			t.Errorf("got services %+v, want web with 32 MiB and 0.1 cores", z.Services)
		}
	})
	for _, tt := range []struct{ who, id string }{{"alice", "web-1"}, {"alice", "nope-0"}, {"admin", "nope-0"}} {
		t.Run(tt.who+" "+tt.id, func(t *testing.T) {
			apiExpectError(t, e.do(tt.who, "GET", "/api/v1/shop/"+tt.id, nil), http.StatusNotFound, "not_found", "")
		})
	}
	t.Run("admin sees the restricted ZApp", func(t *testing.T) {
		if r := e.do("admin", "GET", "/api/v1/shop/web-1", nil); r.status != http.StatusOK {
			t.Errorf("got status %d, want 200", r.status)
		}
	})
}

// TestAPIDatabaseUnavailable: when PostgreSQL stops answering, the API
// says 503 in its error shape, not 500 or a sign-in refusal. The store
// reaches the server through a socket relay that the test then cuts.
func TestAPIDatabaseUnavailable(t *testing.T) {
	base := os.Getenv("ZOE_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("ZOE_TEST_POSTGRES_URL not set: run `make test`")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "zoe_api_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	server := filepath.Join(q.Get("host"), ".s.PGSQL.5432")
	relayDir, err := os.MkdirTemp("", "zoepg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(relayDir) })
	ln, err := net.Listen("unix", filepath.Join(relayDir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", server)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	cut := func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(cut)
	q.Set("host", relayDir)
	u.RawQuery = q.Encode()
	u.Path = "/" + name
	st, err := store.Open(ctx, u.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	alice := store.User{Username: "alice", Role: "user", Source: auth.SourceBuiltin, PasswordHash: apiPasswordHash(), Enabled: true}
	if _, err := st.CreateUser(ctx, &alice); err != nil {
		t.Fatal(err)
	}
	secret, hash := auth.NewToken()
	if _, err := st.CreateToken(ctx, &store.Token{UserID: alice.ID, Name: "test", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(Deps{Logger: log, Store: st, Gate: auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), log)})
	ts := httptest.NewServer(srv.Routes())
	defer ts.Close()
	e := &apiEnv{t: t, st: st, srv: srv, ts: ts, tokens: map[string]string{"alice": secret}}

	if r := e.do("alice", "GET", "/api/v1/me", nil); r.status != http.StatusOK {
		t.Fatalf("before the cut: got status %d, want 200 (body %s)", r.status, r.body)
	}
	cut()
	for _, p := range []string{"/api/v1/me", "/api/v1/executions", "/api/v1/quotas"} {
		t.Run(p, func(t *testing.T) {
			apiExpectError(t, e.do("alice", "GET", p, nil), http.StatusServiceUnavailable, "unavailable", "")
		})
	}
}
