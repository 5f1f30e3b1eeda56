package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// privatePostgres is a PostgreSQL cluster owned by one test, which may stop
// it: the shared server must stay up for everyone else.
type privatePostgres struct {
	bin, dir string
	runas    []string
}

func startPostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL binaries not found under /usr/lib/postgresql: run `make test` (scripts/testenv.sh installs them)")
	}
	slices.SortFunc(bins, func(a, b string) int { return pgVersion(a) - pgVersion(b) })
	// A short directory of its own, since the unix socket's path is
	// limited, that the postgres user can enter.
	dir, err := os.MkdirTemp("", "zoe-pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePostgres{bin: filepath.Dir(bins[len(bins)-1]), dir: dir}
	t.Cleanup(func() {
		p.stop(t)
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.runas = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run(t, filepath.Join(p.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "zoe", "--auth=trust", "-E", "UTF8")
	p.start(t)
	p.run(t, filepath.Join(p.bin, "createdb"), "-h", dir, "-U", "zoe", "zoe")
	return p
}

func pgVersion(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

func (p *privatePostgres) run(t *testing.T, args ...string) {
	t.Helper()
	argv := append(slices.Clone(p.runas), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *privatePostgres) start(t *testing.T) {
	t.Helper()
	p.run(t, filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60",
		"-o", "-k "+p.dir+" -c listen_addresses='' -c fsync=off", "start")
}

// stop shuts the server down as an administrator restarting it would
// (fast: open connections are ended).
func (p *privatePostgres) stop(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(p.dir, "data", "postmaster.pid")); err != nil {
		return
	}
	p.run(t, filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop")
}

func (p *privatePostgres) url() string {
	return "postgres://zoe@/zoe?host=" + url.QueryEscape(p.dir) + "&sslmode=disable"
}

// outageClient talks to a running zoe serve as the admin: HTTP Basic for the
// API, a signed-in session for the pages.
type outageClient struct {
	t        *testing.T
	base     string
	password string
	http     *http.Client
}

func (c *outageClient) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if strings.HasPrefix(path, "/api/") {
		req.SetBasicAuth("admin", c.password)
		req.Header.Set("Content-Type", "application/json")
	} else if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.base)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// A request that hangs is a deadlock somewhere: show where.
		buf := make([]byte, 1<<22)
		f := filepath.Join(os.TempDir(), "zoe-outage-goroutines.txt")
		_ = os.WriteFile(f, buf[:runtime.Stack(buf, true)], 0o644)
		c.t.Fatalf("%s %s: %v (goroutines in %s)", method, path, err, f)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *outageClient) signIn() {
	c.t.Helper()
	code, page := c.do(http.MethodGet, "/login", "")
	m := csrfField.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		c.t.Fatalf("GET /login: got %d and no CSRF field:\n%s", code, page)
	}
	form := url.Values{"username": {"admin"}, "password": {c.password}, "csrf_token": {m[1]}}
	if code, page := c.do(http.MethodPost, "/login", form.Encode()); code != http.StatusOK {
		c.t.Fatalf("POST /login: got %d:\n%s", code, page)
	}
}

func (c *outageClient) status(id int64) string {
	c.t.Helper()
	code, body := c.do(http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", id), "")
	var x struct {
		Status string `json:"status"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &x) != nil {
		c.t.Fatalf("GET execution %d: got %d %s", id, code, body)
	}
	return x.Status
}

func (c *outageClient) waitStatus(id int64, want string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := c.status(id)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			_, body := c.do(http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", id), "")
			c.t.Fatalf("execution %d: got status %q, want %q:\n%s", id, got, want, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *outageClient) submit(name string) int64 {
	c.t.Helper()
	code, body := c.do(http.MethodPost, "/api/v1/executions", outageZApp(name))
	var x struct {
		ID int64 `json:"id"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &x) != nil || x.ID == 0 {
		c.t.Fatalf("submit %s: got %d %s, want 201 with the execution", name, code, body)
	}
	return x.ID
}

func outageZApp(name string) string {
	return fmt.Sprintf(`{"description": {"name": %q, "version": 3, "will_end": false, "size": 1, "services": [
		{"name": "app", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
		 "command": "sh -c 'trap \"exit 0\" TERM; sleep 600 & wait'", "environment": [], "ports": [], "volumes": [],
		 "resources": {"memory": {"min": "32MiB", "max": null}, "cores": {"min": 0.1, "max": null}}}]}}`, name)
}

// rowCounts counts what the database holds, and what it should never
// hold twice.
func rowCounts(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	for name, q := range map[string]string{
		"executions":         `SELECT count(*) FROM executions`,
		"services":           `SELECT count(*) FROM services`,
		"users":              `SELECT count(*) FROM users`,
		"duplicate services": `SELECT count(*) FROM (SELECT execution_id, name FROM services GROUP BY execution_id, name HAVING count(*) > 1) d`,
		"active services of ended executions": `SELECT count(*) FROM services s JOIN executions e ON e.id = s.execution_id
			WHERE e.status IN ('terminated', 'error') AND s.status = 'active'`,
	} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", name, err)
		}
		out[name] = n
	}
	return out
}

// TestServeDatabaseOutage stops PostgreSQL under a running Zoe and starts it
// again: meanwhile /readyz names the database, requests fail with 503 and a
// message saying so, and the lifecycle's passes fail and are retried; after,
// everything recovers by itself, with nothing lost, half-written or
// duplicated.
func TestServeDatabaseOutage(t *testing.T) {
	start := time.Now()
	mark := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }
	pg := startPostgres(t)
	mark("postgres up")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "dbo" + hex.EncodeToString(b)
	const password = "outage test password"
	base, logs, _ := startServe(t, "--db", pg.url(), "--data-dir", t.TempDir(), "--deployment-name", dep,
		"--admin-password", password, "--host-check-interval", "500ms")
	t.Cleanup(func() { removeContainers(t, dep) })
	jar, _ := cookiejar.New(nil)
	c := &outageClient{t: t, base: base, password: password, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	c.signIn()

	kept := c.submit("kept")
	dies := c.submit("dies")
	c.waitStatus(kept, "running")
	c.waitStatus(dies, "running")
	before := rowCounts(t, pg.url())
	mark("executions running")

	pg.stop(t)
	mark("postgres stopped")
	code, body := c.do(http.MethodGet, "/readyz", "")
	var ready struct {
		Ready  bool `json:"ready"`
		Checks []struct {
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != http.StatusServiceUnavailable || ready.Ready {
		t.Errorf("/readyz during the outage: got %d %s, want 503 not ready", code, body)
	}
	for _, ch := range ready.Checks {
		if ch.Name == "database" && (ch.OK || ch.Error == "") {
			t.Errorf("/readyz: got database check %+v, want it failed with the reason", ch)
		}
		if ch.Name == "docker" && !ch.OK {
			t.Errorf("/readyz: got docker check %+v, want it fine: only the database is down", ch)
		}
	}
	apiUnavailable := regexp.MustCompile(`"code": "unavailable",\s+"message": "the database is unavailable; try again in a moment"`)
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/executions", ""},
		{http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", kept), ""},
		{http.MethodPost, "/api/v1/executions", outageZApp("lost")},
		{http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/terminate", kept), ""},
	} {
		if code, body := c.do(r.method, r.path, r.body); code != http.StatusServiceUnavailable || !apiUnavailable.MatchString(body) {
			t.Errorf("%s %s during the outage: got %d %s, want 503 saying the database is unavailable", r.method, r.path, code, body)
		}
	}
	for _, path := range []string{"/executions", fmt.Sprintf("/executions/%d", kept), "/shop"} {
		if code, body := c.do(http.MethodGet, path, ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "unavailable") {
			// Pages read the session first: its errors must be told
			// apart like every other store error.
			t.Errorf("GET %s during the outage: got %d, want 503 saying what is unavailable:\n%.300s", path, code, body)
		}
	}

	// A container dies while nothing can be recorded; the lifecycle keeps
	// trying.
	if out, err := exec.Command("docker", "-H", os.Getenv("ZOE_TEST_DOCKER_HOST"), "kill",
		fmt.Sprintf("app0-%d-%s", dies, dep)).CombinedOutput(); err != nil {
		t.Fatalf("kill the container of execution %d: %v\n%s", dies, err, out)
	}
	failed := func() int { return strings.Count(logs.String(), "lifecycle pass failed") }
	deadline := time.Now().Add(15 * time.Second)
	for failed() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("got %d failed lifecycle passes in 15 s of outage, want them retried:\n%s", failed(), logs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	mark("passes failed")
	pg.start(t)
	mark("postgres started again")
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, body := c.do(http.MethodGet, "/readyz", "")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the database returned: got %d %s, want 200 within 30 s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := c.do(http.MethodGet, "/executions", ""); code != http.StatusOK || !strings.Contains(body, "kept") {
		t.Errorf("GET /executions after the outage: got %d, want the list with the session still valid:\n%.300s", code, body)
	}
	mark("ready again")
	c.waitStatus(dies, "error")
	mark("death recorded")
	if got := c.status(kept); got != "running" {
		t.Errorf("execution untouched by the outage: got %q, want running", got)
	}
	after := rowCounts(t, pg.url())
	if before["executions"] != after["executions"] || before["services"] != after["services"] || before["users"] != after["users"] {
		t.Errorf("rows before the outage %v, after %v: want nothing added or lost", before, after)
	}
	for _, k := range []string{"duplicate services", "active services of ended executions"} {
		if after[k] != 0 {
			t.Errorf("%s: got %d, want 0", k, after[k])
		}
	}
	_, body = c.do(http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", dies), "")
	if !strings.Contains(body, "exited with code 137") {
		t.Errorf("execution whose container was killed during the outage: got %s, want the exit recorded", body)
	}
	// And Zoe works as before.
	again := c.submit("again")
	c.waitStatus(again, "running")
	for _, id := range []int64{kept, again} {
		if code, body := c.do(http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/terminate", id), ""); code >= 300 {
			t.Errorf("terminate %d: got %d %s", id, code, body)
		}
		c.waitStatus(id, "terminated")
	}
}

// removeContainers removes what a deployment left on the test engine.
func removeContainers(t *testing.T, dep string) {
	host := os.Getenv("ZOE_TEST_DOCKER_HOST")
	filter := "label=zoe.deployment=" + dep
	for _, step := range []struct{ list, remove []string }{
		{[]string{"ps", "-aq", "--filter", filter}, []string{"rm", "-f"}},
		{[]string{"network", "ls", "-q", "--filter", filter}, []string{"network", "rm"}},
	} {
		out, _ := exec.Command("docker", append([]string{"-H", host}, step.list...)...).Output()
		ids := strings.Fields(string(out))
		if len(ids) == 0 {
			continue
		}
		args := append(append([]string{"-H", host}, step.remove...), ids...)
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Logf("remove what %s left: %v\n%s", dep, err, out)
		}
	}
}
