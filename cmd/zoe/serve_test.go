package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs zoe serve with args until the returned stop is called;
// stop waits for a graceful shutdown and fails the test if it does not end.
func startServe(t *testing.T, args ...string) (addr string, logs *syncBuffer, stop func()) {
	t.Helper()
	host := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if host == "" {
		t.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test`")
	}
	t.Setenv("DOCKER_HOST", host)
	c, _, err := loadConfig("serve", append([]string{"--listen", "127.0.0.1:0", "--zapp-shop-path", "../../shop/sample"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, log, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended before listening: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60 s\n%s", logs)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not shut down within 30 s")
			}
		})
	}
	// Cleanups run last first: the ready networks go once serve has ended.
	t.Cleanup(func() { removePoolNetworks(t, c.DeploymentName) })
	t.Cleanup(stop)
	return "http://" + addr, logs, stop
}

// removePoolNetworks removes the networks serve keeps beyond its
// executions, the ready ones (backend-network-pool) and the solo one
// (backend-solo-network): a later serve would use them again, but tests
// leave nothing on the shared engine.
func removePoolNetworks(t *testing.T, dep string) {
	host := os.Getenv("ZOE_TEST_DOCKER_HOST")
	for _, label := range []string{"zoe.pool=ready", "zoe.isolated=true"} {
		out, _ := exec.Command("docker", "-H", host, "network", "ls", "-q", "--filter", "label=zoe.deployment="+dep, "--filter", "label="+label).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			if out, err := exec.Command("docker", append([]string{"-H", host, "network", "rm"}, ids...)...).CombinedOutput(); err != nil {
				t.Logf("remove the %s networks of %s: %v\n%s", label, dep, err, out)
			}
		}
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ZOE_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("ZOE_TEST_POSTGRES_URL not set: run `make test`")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "zoe_serve_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func TestServeOperationsAndRestart(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data-dir", dir}
			if kind == "postgres" {
				args = append(args, "--db", postgresDatabase(t))
			}
			base, logs, stop := startServe(t, args...)
			if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
				t.Errorf("/healthz: got %d %q, want 200 ok", code, body)
			}
			code, body := get(t, base+"/readyz")
			var ready struct {
				Ready  bool `json:"ready"`
				Checks []struct {
					Name string `json:"name"`
					OK   bool   `json:"ok"`
				} `json:"checks"`
			}
			if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 200 || !ready.Ready || len(ready.Checks) != 2 {
				t.Errorf("/readyz: got %d %s, want 200 ready with database and docker checks", code, body)
			}
			code, body = get(t, base+"/metrics")
			for _, want := range []string{"zoe_executions{state=\"running\"} 0", "zoe_host_online{host=\"local\"} 1", "# TYPE zoe_launch_seconds histogram"} {
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("/metrics: got %d, want it to contain %q:\n%s", code, want, body)
				}
			}
			if !strings.Contains(logs.String(), "created the first account: admin") || !strings.Contains(logs.String(), "password=") {
				t.Errorf("the first start did not print the admin password:\n%s", logs)
			}
			stop()
			if !strings.Contains(logs.String(), "shutting down") {
				t.Errorf("no graceful shutdown in the log:\n%s", logs)
			}

			// The second start finds the admin: no new password.
			_, logs2, stop2 := startServe(t, args...)
			stop2()
			if strings.Contains(logs2.String(), "created the first account") {
				t.Errorf("the admin was created again after a restart:\n%s", logs2)
			}
		})
	}
}

func TestServeAdminPasswordFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	_, logs, stop := startServe(t, "--data-dir", dir, "--admin-password", "correct horse battery")
	stop()
	if strings.Contains(logs.String(), "correct horse battery") || strings.Contains(logs.String(), "password=") {
		t.Errorf("a configured admin password must not be printed:\n%s", logs)
	}
}

func TestServeRefusesBadHostsFile(t *testing.T) {
	f := t.TempDir() + "/docker.conf"
	if err := os.WriteFile(f, []byte("[h1]\nexternal_address: 1.2.3.4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := loadConfig("serve", []string{"--data-dir", t.TempDir(), "--backend-docker-config-file", f, "--listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), c, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "docker.conf") {
		t.Errorf("got %v, want an error naming the hosts file", err)
	}
}
