// Command web measures a real `zoe serve` (the built binary, started here
// with a fresh store): the service proxy against the same service reached
// directly, the portal's pages against bare net/http on the same machine
// with the same load generator, and the server's resident memory idle and
// under 200 polling clients. It prints a Markdown report on stdout.
//
// The store is SQLite in a temporary directory, or, with -postgres, a
// database created for the run on that server and dropped afterwards.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/bench/load"
	"github.com/zoe-analytics/zoe/store"
)

type options struct {
	zoe, echoBin, echoImage, docker, postgres, shop string
	pieces                                          map[string]bool
	concurrency, executions, pollers                int
	duration                                        time.Duration
	out                                             io.Writer // the report
}

func main() {
	o := options{out: os.Stdout}
	var pieces string
	flag.StringVar(&o.zoe, "zoe", "./zoe", "the zoe binary")
	flag.StringVar(&o.echoBin, "echo", "", "the bench/echo binary, run on the host as the bare net/http ceiling")
	flag.StringVar(&o.echoImage, "echo-image", "zoe/bench-echo:latest", "image of bench/echo on the engine, the service behind the proxy")
	flag.StringVar(&o.docker, "docker", os.Getenv("ZOE_TEST_DOCKER_HOST"), "Docker engine (unix:///… URL)")
	flag.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL: run on a fresh database of that server instead of SQLite")
	flag.StringVar(&o.shop, "shop", "shop/sample", "ZApp shop directory")
	flag.StringVar(&pieces, "pieces", "proxy,portal,memory", "what to measure: proxy, portal, memory")
	flag.IntVar(&o.concurrency, "c", 32, "concurrency (connections)")
	flag.IntVar(&o.executions, "executions", 1000, "executions in the store")
	flag.IntVar(&o.pollers, "pollers", 200, "polling clients for the memory figure")
	flag.DurationVar(&o.duration, "d", 5*time.Second, "duration of each measurement")
	flag.Parse()
	o.pieces = map[string]bool{}
	for p := range strings.SplitSeq(pieces, ",") {
		o.pieces[strings.TrimSpace(p)] = true
	}
	if o.docker == "" {
		fmt.Fprintln(os.Stderr, "web: no Docker engine: set ZOE_TEST_DOCKER_HOST or -docker (scripts/bench.sh does)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(1)
	}
}

const adminPassword = "bench-admin-password"

func run(o options) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "zoe-bench-web-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	kind := "SQLite"
	dbURL := ""
	if o.postgres != "" {
		kind = "PostgreSQL"
		var drop func()
		dbURL, drop, err = freshDatabase(ctx, o.postgres)
		if err != nil {
			return err
		}
		defer drop()
	}
	w := o.out

	// Idle: a first start on an empty store, as after installation.
	var idleEmpty memory
	if o.pieces["memory"] {
		z, err := startZoe(ctx, o, tmp, dbURL, "published")
		if err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		idleEmpty = z.memory()
		z.stop()
		if err := os.RemoveAll(filepath.Join(tmp, "data")); err != nil {
			return err
		}
		if dbURL != "" {
			if err := emptyDatabase(ctx, dbURL); err != nil {
				return err
			}
		}
	}

	if err := seed(ctx, dbURL, filepath.Join(tmp, "data"), o.executions); err != nil {
		return fmt.Errorf("seed the store: %w", err)
	}
	z, err := startZoe(ctx, o, tmp, dbURL, "published")
	if err != nil {
		return err
	}
	defer z.stop()
	time.Sleep(2 * time.Second)
	idleSeeded := z.memory()

	cookie, err := z.login(ctx)
	if err != nil {
		return err
	}
	svc, err := z.launchEcho(ctx, o.echoImage)
	if err != nil {
		return err
	}
	defer z.terminate(svc.execution)

	fmt.Fprintf(w, "### Store: %s\n\n", kind)
	var bare load.Result
	if o.pieces["portal"] || o.pieces["proxy"] {
		if bare, err = bareLimit(ctx, o); err != nil {
			return err
		}
	}
	if o.pieces["proxy"] {
		published := proxySide{target: "published", z: z, cookie: cookie, svc: svc, direct: svc.direct}
		container, stop, err := containerSide(ctx, o, tmp)
		if err != nil {
			return fmt.Errorf("zoe serve with proxy-target = container: %w", err)
		}
		err = proxyBench(ctx, w, o, published, container)
		stop()
		if err != nil {
			return err
		}
	}
	if o.pieces["portal"] {
		if err := portalBench(ctx, w, o, z, cookie, svc, bare); err != nil {
			return err
		}
	}
	if o.pieces["memory"] {
		if err := memoryBench(ctx, w, o, z, cookie, svc, idleEmpty, idleSeeded); err != nil {
			return err
		}
	}
	return nil
}

// freshDatabase creates a database on the server of base and returns its
// URL and how to drop it.
func freshDatabase(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", base, err)
	}
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	name := "zoe_bench_" + hex.EncodeToString(rnd)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	}
	return u.String(), drop, nil
}

// emptyDatabase drops every table of the database at dbURL, for a second
// first start.
func emptyDatabase(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
	return err
}

// seed writes the admin account and n ended executions of two services
// each, spread over ten users, as a busy deployment's history looks.
func seed(ctx context.Context, dbURL, dataDir string, n int) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	st, err := store.Open(ctx, dbURL, dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	admin := store.User{Username: "admin", Role: "admin", Source: "builtin", Enabled: true}
	if err := auth.CreateUser(ctx, st, &admin, adminPassword); err != nil {
		return err
	}
	var owners []int64
	for i := range 10 {
		u := store.User{Username: fmt.Sprintf("user%d", i), Role: "user", Source: "builtin", Enabled: true}
		if err := auth.CreateUser(ctx, st, &u, "bench-user-password"); err != nil {
			return err
		}
		got, err := st.UserByName(ctx, u.Username)
		if err != nil {
			return err
		}
		owners = append(owners, got.ID)
	}
	desc := []byte(`{"name":"notebook","version":3,"will_end":false,"size":1,"services":[]}`)
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute).UTC()
		e := &store.Execution{
			Name: fmt.Sprintf("run %d", i), UserID: owners[i%len(owners)], ZappID: "jupyter", Description: desc,
			Status: store.StatusSubmitted, Size: 1, Memory: 2 << 30, MilliCores: 1000, SubmittedAt: at,
		}
		services := []store.Service{
			{Name: "jupyter0", Group: "jupyter", Essential: true, Description: []byte(`{}`), Status: store.ServiceCreated, BackendStatus: store.BackendUndefined, Memory: 1 << 30, MilliCores: 500,
				Ports: []store.Port{{Name: "Notebook", Number: 8888, Protocol: "tcp", URLTemplate: "http://{ip_port}{proxy_path}", Proxy: true}}},
			{Name: "worker0", Group: "worker", Essential: false, Description: []byte(`{}`), Status: store.ServiceCreated, BackendStatus: store.BackendUndefined, Memory: 1 << 30, MilliCores: 500},
		}
		id, err := st.CreateExecution(ctx, e, services)
		if err != nil {
			return err
		}
		final := store.StatusTerminated
		if i%7 == 0 {
			final = store.StatusError
		}
		if err := st.SetExecutionStatus(ctx, id, []string{store.StatusSubmitted}, final, "", at.Add(30*time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

// zoeProc is a running `zoe serve`.
type zoeProc struct {
	cmd        *exec.Cmd
	base       string // http://127.0.0.1:port
	deployment string
	docker     string // the engine it runs services on
	done       chan error
	http       *http.Client
}

// startZoe starts zoe serve on the store in tmp (or at dbURL), its proxy
// reaching services at target: "published" or "container" (proxy-target).
func startZoe(ctx context.Context, o options, tmp, dbURL, target string) (*zoeProc, error) {
	hosts := filepath.Join(tmp, "hosts.ini")
	if err := os.WriteFile(hosts, []byte("[h1]\ndocker_address: "+o.docker+"\nexternal_address: 127.0.0.1\n"), 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	deployment := "bench" + hex.EncodeToString(rnd)
	args := []string{"serve",
		"-listen", addr, "-data-dir", filepath.Join(tmp, "data"), "-db", dbURL,
		"-deployment-name", deployment, "-backend-docker-config-file", hosts,
		"-zapp-shop-path", o.shop, "-log-level", "warn", "-admin-password", adminPassword,
		"-config", filepath.Join(tmp, "none.conf"), "-proxy-target", target,
	}
	if err := os.WriteFile(filepath.Join(tmp, "none.conf"), nil, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.zoe, args...)
	// Only what zoe serve needs from the environment: no ZOE_* settings
	// of the shell leak into the measured configuration.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.zoe, err)
	}
	z := &zoeProc{cmd: cmd, base: "http://" + addr, deployment: deployment, docker: o.docker, done: make(chan error, 1), http: load.Clients(1)[0]}
	go func() { z.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := load.Get(ctx, z.http, z.base+"/readyz", nil, http.StatusOK)
		if err == nil {
			return z, nil
		}
		select {
		case err := <-z.done:
			return nil, fmt.Errorf("zoe serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			z.stop()
			return nil, fmt.Errorf("zoe serve not ready after 30 s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (z *zoeProc) stop() {
	if z.cmd.Process == nil {
		return
	}
	_ = z.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-z.done:
	case <-time.After(20 * time.Second):
		_ = z.cmd.Process.Kill()
		<-z.done
	}
	z.cmd.Process = nil
	// The networks serve keeps beyond its executions (the pool's and the
	// solo one) would otherwise stay on the engine after every run.
	if err := removeNetworks(context.Background(), z.docker, z.deployment); err != nil {
		fmt.Fprintf(os.Stderr, "web: %v\n", err)
	}
}

// memory is what /proc says about the process.
type memory struct {
	rss, peak int64         // bytes
	cpu       time.Duration // user + system since start
}

func (z *zoeProc) memory() memory {
	var m memory
	pid := z.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			var kb int64
			if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &kb); n == 1 {
				m.rss = kb << 10
			}
			if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
				m.peak = kb << 10
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the command name, which ends with the last ')'.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 13 {
				var ut, st int64
				fmt.Sscan(f[11], &ut)
				fmt.Sscan(f[12], &st)
				m.cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
			}
		}
	}
	return m
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// login signs the admin in through the sign-in form and returns the
// Cookie header that carries the session.
func (z *zoeProc) login(ctx context.Context) (string, error) {
	c := load.Clients(1)[0]
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, z.base+"/login", nil)
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	cookies := res.Cookies()
	_, after, ok := strings.Cut(string(body), `name="csrf_token" value="`)
	if !ok {
		return "", errors.New("sign-in form has no CSRF token")
	}
	token, _, _ := strings.Cut(after, `"`)
	form := url.Values{"username": {"admin"}, "password": {adminPassword}, auth.CSRFField: {token}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, z.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	res, err = c.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("sign-in: got status %d, want 303", res.StatusCode)
	}
	jar := map[string]string{}
	for _, ck := range cookies {
		jar[ck.Name] = ck.Value
	}
	for _, ck := range res.Cookies() {
		jar[ck.Name] = ck.Value
	}
	var parts []string
	for k, v := range jar {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; "), nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
