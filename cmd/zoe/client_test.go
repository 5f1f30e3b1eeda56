package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/handlers"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// cliCommands are the client's sub-commands by name, as main.go
// registers them.
func cliCommands() map[string]func(*client, []string) error {
	return map[string]func(*client, []string) error{
		"login": runLogin, "info": runInfo, "shop": runShop, "start": runStart, "ls": runLs, "show": runShow, "get": runShow,
		"logs": runLogs, "terminate": runTerminate, "extend": runExtend, "restart": runRestart, "rm": runRm, "stats": runStats,
		"users": runUsers, "quotas": runQuotas,
	}
}

// cliRun is one invocation of the client.
type cliRun struct {
	code           int
	stdout, stderr string
}

// cliInvoke runs `zoe args...` with environment env, home directory home
// and stdin.
func cliInvoke(t *testing.T, env map[string]string, home, stdin string, args ...string) cliRun {
	t.Helper()
	fn, ok := cliCommands()[args[0]]
	if !ok {
		t.Fatalf("no client command %q", args[0])
	}
	var out, errb bytes.Buffer
	c := newClient(&out, &errb)
	c.stdin = strings.NewReader(stdin)
	c.getenv = func(k string) string { return env[k] }
	c.rcPath = filepath.Join(home, ".zoerc")
	code := c.run(args[0], fn, args[1:])
	return cliRun{code, out.String(), errb.String()}
}

func TestClientCommandsAreRegistered(t *testing.T) {
	cmds := commands()
	for name := range cliCommands() {
		if _, ok := cmds[name]; !ok {
			t.Errorf("zoe %s is not in commands()", name)
		}
	}
}

func TestClientConfiguration(t *testing.T) {
	home := t.TempDir()
	rc := "# a comment\nurl = http://from-file:8080/\ntoken = file-token\n"
	if err := os.WriteFile(filepath.Join(home, ".zoerc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		flags     []string
		wantURL   string
		wantToken string
	}{
		{"file", nil, nil, "http://from-file:8080", "file-token"},
		{"environment over file", map[string]string{"ZOE_URL": "https://env", "ZOE_TOKEN": "env-token"}, nil, "https://env", "env-token"},
		{"flags over environment", map[string]string{"ZOE_URL": "https://env", "ZOE_TOKEN": "env-token"}, []string{"--url", "http://flag", "--token", "flag-token"}, "http://flag", "flag-token"},
		{"mixed", map[string]string{"ZOE_TOKEN": "env-token"}, nil, "http://from-file:8080", "env-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(io.Discard, io.Discard)
			c.getenv = func(k string) string { return tt.env[k] }
			c.rcPath = filepath.Join(home, ".zoerc")
			fs := c.flags("info", "info")
			if _, err := c.parse(fs, tt.flags, 0, 0); err != nil {
				t.Fatal(err)
			}
			if c.base != tt.wantURL || c.token != tt.wantToken {
				t.Errorf("got %s %s, want %s %s", c.base, c.token, tt.wantURL, tt.wantToken)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		empty := t.TempDir()
		r := cliInvoke(t, nil, empty, "", "info")
		if r.code != exitAPI || !strings.Contains(r.stderr, "zoe login") {
			t.Errorf("no address: got %d %q, want 1 and a hint to log in", r.code, r.stderr)
		}
		r = cliInvoke(t, map[string]string{"ZOE_URL": "ftp://x"}, empty, "", "info")
		if r.code != exitAPI || !strings.Contains(r.stderr, "not an http(s) URL") {
			t.Errorf("bad address: got %d %q", r.code, r.stderr)
		}
		if err := os.WriteFile(filepath.Join(empty, ".zoerc"), []byte("url http://x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = cliInvoke(t, nil, empty, "", "info")
		if r.code != exitAPI || !strings.Contains(r.stderr, ".zoerc:1") {
			t.Errorf("bad file: got %d %q, want the file and line", r.code, r.stderr)
		}
		r = cliInvoke(t, map[string]string{"ZOE_URL": "http://127.0.0.1:1", "ZOE_TOKEN": "x"}, empty, "", "info")
		if r.code != exitAPI || !strings.Contains(r.stderr, "cannot reach Zoe") {
			t.Errorf("no server: got %d %q", r.code, r.stderr)
		}
	})
}

func TestClientUsage(t *testing.T) {
	env := map[string]string{"ZOE_URL": "http://127.0.0.1:1", "ZOE_TOKEN": "x"}
	home := t.TempDir()
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"show"}, exitUsage},
		{[]string{"show", "1", "2"}, exitUsage},
		{[]string{"start", "name"}, exitUsage},
		{[]string{"start", "--param", "novalue", "n", "z"}, exitUsage},
		{[]string{"logs", "1"}, exitUsage},
		{[]string{"ls", "--bogus"}, exitUsage},
		{[]string{"users"}, exitUsage},
		{[]string{"users", "frobnicate"}, exitUsage},
		{[]string{"quotas", "create"}, exitUsage},
		{[]string{"users", "update", "--enable", "--disable", "bob"}, exitUsage},
		{[]string{"ls", "--help"}, exitOK},
		{[]string{"users", "--help"}, exitOK},
		{[]string{"show", "abc"}, exitAPI},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if r := cliInvoke(t, env, home, "", tt.args...); r.code != tt.code {
				t.Errorf("got exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
		})
	}
}

const cliWebZApp = `{"name": "web", "version": 3, "will_end": false, "size": 1, "services": [{
  "name": "web", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "32MiB", "max": "64MiB"}, "cores": {"min": 0.1, "max": 1}},
  "ports": [{"name": "Web", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
  "environment": [["GREETING", "hi"]], "volumes": [],
  "command": "sh -c 'echo $GREETING; mkdir -p /tmp/www; exec httpd -f -p 8080 -h /tmp/www'"}]}`

const cliJobZApp = `{"name": "job", "version": 3, "will_end": true, "size": 1, "services": [{
  "name": "job", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
  "resources": {"memory": {"min": "16MiB", "max": null}, "cores": {"min": 0.1, "max": null}},
  "ports": [], "environment": [], "volumes": [],
  "command": "sh -c 'sleep 2; echo one; echo two; echo three'"}]}`

// cliServer is a real Zoe behind httptest: SQLite, a one-ZApp shop, the
// private Docker engine and the lifecycle loop. It returns the server's
// URL and API tokens of an admin and a user.
func cliServer(t *testing.T) (url, adminToken, userToken string) {
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
	shopDir := filepath.Join(t.TempDir(), "web")
	if err := os.MkdirAll(shopDir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := `{"version": 1, "zapps": [{"category": "Tests", "name": "Web", "description": "web.json", "readable_descr": "README.md",
	  "parameters": [{"kind": "environment", "name": "GREETING", "readable_name": "Greeting", "description": "Printed first.", "type": "string", "default": "hello"}]}]}`
	for name, body := range map[string]string{"manifest.json": manifest, "web.json": cliWebZApp, "README.md": "A web server.\n"} {
		if err := os.WriteFile(filepath.Join(shopDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "cli" + hex.EncodeToString(b)
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
	srv := handlers.New(handlers.Deps{
		Logger: log, Version: "cli-test", Deployment: dep, Store: st, Shop: shop.Open(filepath.Dir(shopDir), log), Lifecycle: lc, Sessions: sessions,
		Gate: auth.NewGate(st, auth.NewBuiltin(st), auth.NewThrottle(auth.ThrottleConfig{}), log), Logs: be,
	})
	lc.Start(ctx)
	ts := httptest.NewServer(srv.Routes())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		lc.Stop()
		cs, _ := be.List(context.Background())
		for _, c := range cs {
			_ = be.Remove(context.Background(), c.Host, c.ID)
		}
		_ = st.Close()
	})
	hash, err := auth.HashPassword("admin-password")
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, u := range []store.User{{Username: "admin", Role: "admin"}, {Username: "alice", Role: "user"}} {
		u.Source, u.PasswordHash, u.Enabled = auth.SourceBuiltin, hash, true
		if _, err := st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		secret, tokenHash := auth.NewToken()
		if _, err := st.CreateToken(ctx, &store.Token{UserID: u.ID, Name: "test", Hash: tokenHash}); err != nil {
			t.Fatal(err)
		}
		tokens[u.Username] = secret
	}
	return ts.URL, tokens["admin"], tokens["alice"]
}

// TestClientAgainstServer drives every client command against a running
// server with real containers.
func TestClientAgainstServer(t *testing.T) {
	base, adminToken, aliceToken := cliServer(t)
	home := t.TempDir()
	alice := map[string]string{"ZOE_URL": base, "ZOE_TOKEN": aliceToken}
	admin := map[string]string{"ZOE_URL": base, "ZOE_TOKEN": adminToken}
	zoe := func(t *testing.T, env map[string]string, want int, args ...string) cliRun {
		t.Helper()
		r := cliInvoke(t, env, home, "", args...)
		if r.code != want {
			t.Fatalf("zoe %s: got exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	contains := func(t *testing.T, r cliRun, parts ...string) {
		t.Helper()
		for _, p := range parts {
			if !strings.Contains(r.stdout, p) {
				t.Errorf("got output %q, want %q in it", r.stdout, p)
			}
		}
	}

	t.Run("login", func(t *testing.T) {
		r := cliInvoke(t, map[string]string{"ZOE_URL": base}, home, "admin\nadmin-password\n", "login")
		if r.code != exitOK {
			t.Fatalf("got exit %d (stderr %s)", r.code, r.stderr)
		}
		fi, err := os.Stat(filepath.Join(home, ".zoerc"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("got mode %v, want 0600", fi.Mode().Perm())
		}
		rc, err := readRC(filepath.Join(home, ".zoerc"))
		if err != nil {
			t.Fatal(err)
		}
		if rc["url"] != base || !strings.HasPrefix(rc["token"], auth.TokenPrefix) {
			t.Fatalf("got %v, want the URL and a token", rc)
		}
		// The saved configuration is enough for the next command.
		r = zoe(t, nil, exitOK, "users", "ls")
		contains(t, r, "admin", "alice")
		r = cliInvoke(t, map[string]string{"ZOE_URL": base}, home, "admin\nwrong\n", "login")
		if r.code != exitAPI || !strings.Contains(r.stderr, "zoe login:") {
			t.Errorf("wrong password: got %d %q, want 1 and a message", r.code, r.stderr)
		}
	})
	t.Run("info and shop", func(t *testing.T) {
		contains(t, zoe(t, alice, exitOK, "info"), "Zoe cli-test", "ZApp format: 3")
		contains(t, zoe(t, alice, exitOK, "shop"), "web-0", "Web")
		contains(t, zoe(t, alice, exitOK, "shop", "web-0"), "GREETING", "hello", "32 MiB")
		r := zoe(t, alice, exitAPI, "shop", "nope-0")
		if !strings.Contains(r.stderr, "not found") {
			t.Errorf("got %q, want not found", r.stderr)
		}
	})

	var id string
	t.Run("start from the shop and wait", func(t *testing.T) {
		r := zoe(t, alice, exitOK, "start", "--wait", "--param", "GREETING=salut-zoe", "--memory", "web=48MiB", "--cores", "web=0.5", "my-web", "web-0")
		fields := strings.Fields(r.stdout)
		if len(fields) < 2 || fields[0] != "Execution" {
			t.Fatalf("got %q, want Execution ID", r.stdout)
		}
		id = fields[1]
		if !strings.Contains(r.stderr, "running") {
			t.Errorf("got progress %q, want it to reach running", r.stderr)
		}
		contains(t, zoe(t, alice, exitOK, "show", id), "my-web", "running", "48 MiB", "web0", "/proxy/"+id+"/web0/8080/", "http://127.0.0.1:")
		contains(t, zoe(t, alice, exitOK, "logs", id, "web0"), "salut-zoe")
		contains(t, zoe(t, alice, exitOK, "ls"), id, "my-web", "running")
		contains(t, zoe(t, alice, exitOK, "ls", "--status", "running,queued"), id)
		if r := zoe(t, alice, exitOK, "ls", "--status", "terminated"); strings.Contains(r.stdout, "my-web") {
			t.Errorf("terminated filter shows a running execution: %q", r.stdout)
		}
		contains(t, zoe(t, admin, exitOK, "ls", "--all"), "alice")
		contains(t, zoe(t, admin, exitOK, "stats"), "h1", "online", "1 running")
	})
	t.Run("json output", func(t *testing.T) {
		r := zoe(t, alice, exitOK, "show", "--json", id)
		var e struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e.Status != "running" {
			t.Errorf("got %q (%v), want the execution's JSON", r.stdout, err)
		}
		r = zoe(t, alice, exitOK, "ls", "--json")
		if !json.Valid([]byte(r.stdout)) {
			t.Errorf("ls --json: got %q, want JSON", r.stdout)
		}
	})
	t.Run("API errors exit 1 with the message", func(t *testing.T) {
		r := zoe(t, alice, exitAPI, "rm", id)
		if !strings.Contains(r.stderr, "terminate it first") {
			t.Errorf("got %q, want the refusal", r.stderr)
		}
		zoe(t, alice, exitAPI, "show", "999999")
		r = zoe(t, alice, exitAPI, "extend", id)
		if !strings.Contains(r.stderr, "never stopped for being idle") {
			t.Errorf("extend: got %q, want the refusal", r.stderr)
		}
		r = zoe(t, alice, exitAPI, "users", "ls")
		if !strings.Contains(r.stderr, "your role cannot") {
			t.Errorf("got %q, want a role refusal", r.stderr)
		}
		r = zoe(t, alice, exitAPI, "start", "--memory", "web=lots", "--cores", "web=x", "n", "web-0")
		if !strings.Contains(r.stderr, "resources.web.memory") || !strings.Contains(r.stderr, "resources.web.cores") {
			t.Errorf("got %q, want both field errors", r.stderr)
		}
		r = zoe(t, map[string]string{"ZOE_URL": base, "ZOE_TOKEN": "zoe_bad"}, exitAPI, "info")
		if !strings.Contains(r.stderr, "zoe login") {
			t.Errorf("got %q, want a hint to log in", r.stderr)
		}
	})
	t.Run("terminate, restart, rm", func(t *testing.T) {
		contains(t, zoe(t, alice, exitOK, "terminate", "--wait", id), "terminated")
		contains(t, zoe(t, alice, exitOK, "logs", id, "web0"), "salut-zoe")
		r := zoe(t, alice, exitOK, "restart", id)
		fields := strings.Fields(r.stdout)
		if len(fields) < 2 || fields[1] == id {
			t.Fatalf("got %q, want a new execution", r.stdout)
		}
		contains(t, zoe(t, alice, exitOK, "rm", id), "deleted")
		zoe(t, alice, exitOK, "terminate", fields[1])
	})
	t.Run("start a file and follow", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "job.json")
		if err := os.WriteFile(file, []byte(cliJobZApp), 0o644); err != nil {
			t.Fatal(err)
		}
		r := zoe(t, alice, exitOK, "start", "--follow", "job", file)
		contains(t, r, "one\ntwo\nthree\n")
		zoe(t, alice, exitUsage, "start", "--param", "A=b", "job", file)
	})
	t.Run("users and quotas", func(t *testing.T) {
		contains(t, zoe(t, admin, exitOK, "quotas", "create", "--executions", "2", "--memory", "4GiB", "--runtime", "2h", "small"), "small created", "4 GiB", "2h0m0s")
		r := cliInvoke(t, admin, home, "pw-of-dora\n", "users", "create", "--password-stdin", "--quota", "small", "--email", "dora@example.org", "dora")
		if r.code != exitOK || !strings.Contains(r.stdout, "dora created") || !strings.Contains(r.stdout, "small") {
			t.Fatalf("create user: got %d %q %q", r.code, r.stdout, r.stderr)
		}
		contains(t, zoe(t, admin, exitOK, "users", "update", "--role", "admin", "--disable", "dora"), "admin", "Enabled:    false")
		contains(t, zoe(t, admin, exitOK, "users", "show", "dora"), "dora@example.org")
		contains(t, zoe(t, admin, exitOK, "quotas", "ls"), "default", "small", "4 GiB")
		contains(t, zoe(t, admin, exitOK, "quotas", "update", "--memory", "0", "small"), "unlimited")
		r = zoe(t, admin, exitAPI, "quotas", "create", "--executions", "-1", "small")
		if !strings.Contains(r.stderr, "concurrent_executions") {
			t.Errorf("got %q, want the field", r.stderr)
		}
		zoe(t, admin, exitAPI, "users", "rm", "admin")
		contains(t, zoe(t, admin, exitOK, "users", "rm", "dora"), "deleted")
		contains(t, zoe(t, admin, exitOK, "quotas", "rm", "small"), "deleted")
	})
}
