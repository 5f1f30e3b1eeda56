package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// apiEnv is a real Zoe behind an httptest server: SQLite store, a shop
// with busybox ZApps, the private Docker engine and the lifecycle loop.
type apiEnv struct {
	t      *testing.T
	st     *store.Store
	srv    *Server
	ts     *httptest.Server
	dep    string
	tokens map[string]string // username → API token
	users  map[string]store.User
}

// apiPassword is every test account's password; its hash is computed once
// because bcrypt at cost 12 is slow under -race.
const apiPassword = "correct horse battery"

var apiPasswordHash = sync.OnceValue(func() string {
	h, err := auth.HashPassword(apiPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// apiShopManifest publishes "web" (a busybox httpd with a proxied port and
// a greeting parameter) and "secret", which only admins may see.
const apiShopManifest = `{"version": 1, "zapps": [
 {"category": "Tests", "name": "Web", "description": "web.json", "readable_descr": "README.md",
  "parameters": [{"kind": "environment", "name": "GREETING", "readable_name": "Greeting", "description": "Printed first.", "type": "string", "default": "hello-from-zoe"},
                 {"kind": "service_count", "name": "web", "readable_name": "Servers", "description": "How many.", "type": "integer", "default": "1", "min": 1, "max": 3, "step": 1}]},
 {"category": "Tests", "name": "Secret", "description": "web.json", "readable_descr": "README.md", "parameters": [], "enabled_for": ["admin"]}
]}`

const apiWebZApp = `{"name": "web", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "web", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "32MiB", "max": "64MiB"}, "cores": {"min": 0.1, "max": 1}},
  "ports": [{"name": "Web", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
  "environment": [["GREETING", "hi"]], "volumes": [],
  "command": "sh -c 'echo $GREETING; mkdir -p /tmp/www; echo ok > /tmp/www/index.html; exec httpd -f -p 8080 -h /tmp/www'"}]}`

// apiCustomZApp is a description a user submits: a loop printing lines.
const apiCustomZApp = `{"name": "custom", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "loop", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "16MiB", "max": null}, "cores": {"min": 0.1, "max": null}},
  "ports": [], "environment": [], "volumes": [],
  "command": "sh -c 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done'"}]}`

func newAPIEnv(t *testing.T) *apiEnv {
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
	shopDir := t.TempDir()
	folder := filepath.Join(shopDir, "web")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"manifest.json": apiShopManifest, "web.json": apiWebZApp, "README.md": "A web server.\n"} {
		if err := os.WriteFile(filepath.Join(folder, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sh := shop.Open(shopDir, log)
	if len(sh.List("admin")) != 2 {
		t.Fatalf("test shop: got %d ZApps, want 2 (problems %v)", len(sh.List("admin")), sh.Problems())
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "api" + hex.EncodeToString(b)
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: addr, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lc := lifecycle.New(st, be, sch, lifecycle.Config{Deployment: dep, Workspaces: t.TempDir(), LogDir: t.TempDir(), Resync: time.Second, Logger: log})
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
	e := &apiEnv{t: t, st: st, srv: srv, ts: ts, dep: dep, tokens: map[string]string{}, users: map[string]store.User{}}
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

// addUser creates an account with apiPassword and an API token (guests
// get a token row too, to prove it is refused).
func (e *apiEnv) addUser(name, role string) store.User {
	e.t.Helper()
	ctx := context.Background()
	u := store.User{Username: name, Role: role, Source: auth.SourceBuiltin, PasswordHash: apiPasswordHash(), Enabled: true}
	if _, err := e.st.CreateUser(ctx, &u); err != nil {
		e.t.Fatal(err)
	}
	secret, hash := auth.NewToken()
	if _, err := e.st.CreateToken(ctx, &store.Token{UserID: u.ID, Name: "test", Hash: hash}); err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name] = secret
	e.users[name] = u
	return u
}

// apiResponse is an answer with its body read.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResponse) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErrorBody is the one error shape.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		Fields  []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	} `json:"error"`
}

// do calls the API as user ("" for no credentials) with body (a string of
// JSON or nil).
func (e *apiEnv) do(user, method, path string, body any) apiResponse {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: data}
}

// expectError checks an error answer: its status, the one shape, its
// code and, when given, its field.
func apiExpectError(t *testing.T, r apiResponse, status int, code, field string) apiErrorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var eb apiErrorBody
	r.json(t, &eb)
	if eb.Error.Code != code {
		t.Errorf("got code %q, want %q (body %s)", eb.Error.Code, code, r.body)
	}
	if eb.Error.Message == "" {
		t.Errorf("got an empty message (body %s)", r.body)
	}
	if field != "" && eb.Error.Field != field {
		t.Errorf("got field %q, want %q (body %s)", eb.Error.Field, field, r.body)
	}
	return eb
}

// waitStatus polls execution id until its status is want.
func (e *apiEnv) waitStatus(id int64, want string) store.Execution {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		x, err := e.st.Execution(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if x.Status == want {
			return x
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %d: got status %q (%s), want %q", id, x.Status, x.ErrorMessage, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func apiDecodeResponse(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

func apiItoa(n int64) string { return strconv.FormatInt(n, 10) }
