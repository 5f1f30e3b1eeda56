package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/handlers"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

func runServe(args []string, _, stderr io.Writer) int {
	c, _, err := loadConfig("serve", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "zoe serve:", err)
		return 2
	}
	log := c.logger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log, nil); err != nil {
		log.Error("zoe serve stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs Zoe until ctx ends. ready, when not nil, receives the
// portal's address once it listens (tests use it).
func serve(ctx context.Context, c *Config, log *slog.Logger, ready chan<- string) error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.Open(ctx, c.DB, c.DataDir)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	log.Info("store open", "kind", st.Kind())

	if err := firstAdmin(ctx, st, c, log); err != nil {
		return err
	}

	hosts := []docker.HostConfig{docker.LocalHost()}
	if c.BackendDockerConfigFile != "" {
		f, err := os.Open(c.BackendDockerConfigFile)
		if err != nil {
			return fmt.Errorf("hosts file: %w", err)
		}
		hosts, err = docker.ParseHostsFile(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("hosts file %s: %w", c.BackendDockerConfigFile, err)
		}
	}
	pull := backend.ImagePull(c.BackendImagePull)
	be, err := docker.New(hosts, docker.Options{Deployment: c.DeploymentName, Logger: log, ImagePull: pull, PullTimeout: c.BackendPullTimeout})
	if err != nil {
		return fmt.Errorf("docker back-end: %w", err)
	}

	sch, err := scheduler.New(scheduler.Config{
		Policy:    scheduler.Policy(c.SchedulerPolicy),
		Placement: scheduler.Placement(c.PlacementPolicy),
		Backfill:  c.Backfill,
		// A host that lacks an image can take the service: it pulls it.
		PullImages: pull == backend.PullMissing,
	})
	if err != nil {
		return err
	}
	vols, err := parseVolumes(c.AdditionalVolumes)
	if err != nil {
		return err
	}
	metrics := handlers.NewMetrics()
	launch := metrics.Histogram("zoe_launch_seconds", "Time from submission to running, per execution.", []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300})
	lc := lifecycle.New(st, be, sch, lifecycle.Config{
		Deployment:        c.DeploymentName,
		Workspaces:        filepath.Join(c.WorkspaceBasePath, c.WorkspaceDeploymentPath),
		AdditionalVolumes: vols,
		FSGroupID:         c.FSGroupID,
		Network:           c.NetworkName,
		NetworkPool:       c.NetworkPool,
		SoloNetwork:       c.SoloNetwork,
		Resync:            c.HostCheckInterval,
		LogDir:            filepath.Join(c.DataDir, "logs"),
		Logger:            log,
		OnLaunch:          func(d time.Duration) { launch.Observe(d.Seconds()) },
		Idle:              lifecycle.IdleTimeouts{Guest: c.GuestIdleTimeout, User: c.IdleTimeout, Admin: c.AdminIdleTimeout},
	})

	authn, err := authenticator(c, st, log)
	if err != nil {
		return err
	}
	secret, err := auth.CookieSecret(ctx, st, c.CookieSecret)
	if err != nil {
		return err
	}
	var origins []string
	if c.PublicURL != "" {
		origins = append(origins, strings.TrimRight(c.PublicURL, "/"))
	}
	// One session cache for both origins' sessions, so that signing out or
	// ending a user's sessions through either holds for both at once.
	sessionCache := auth.NewSessionCache()
	sessions, err := auth.NewSessions(st, auth.SessionConfig{Secret: secret, Secure: c.SecureCookies, TrustedOrigins: origins, Cache: sessionCache})
	if err != nil {
		return err
	}
	var proxySessions *auth.Sessions
	if c.ProxyListen != "" || c.ProxyBaseURL != "" {
		if c.ProxyListen == "" || c.ProxyBaseURL == "" {
			return errors.New("proxy-listen and proxy-base-url go together: set both to serve services on their own origin")
		}
		proxySessions, err = auth.NewSessions(st, auth.SessionConfig{Secret: secret, Secure: c.SecureCookies, CookieName: "zoe_proxy", Cache: sessionCache})
		if err != nil {
			return err
		}
	}
	maxMem, _ := parseSize(c.MaxMemoryLimit)
	sh := shop.Open(c.ZappShopPath, log)
	if len(sh.List("admin")) == 0 {
		log.Warn("the ZApp shop is empty", "zapp-shop-path", c.ZappShopPath, "problems", len(sh.Problems()))
	}

	srv := handlers.New(handlers.Deps{
		Logger:     log,
		Version:    version,
		Deployment: c.DeploymentName,
		Metrics:    metrics,
		Store:      st,
		Shop:       sh,
		Lifecycle:  lc,
		Sessions:   sessions,
		Gate:       auth.NewGate(st, authn, auth.NewThrottle(auth.ThrottleConfig{}), log),
		Logs:       be,
		Limits:     shop.Limits{Memory: zapp.Bytes(maxMem), Cores: zapp.MilliCores(c.MaxCoreLimit * 1000)},
		Proxy:      handlers.ProxyConfig{BaseURL: c.ProxyBaseURL, PortalURL: c.PublicURL, Sessions: proxySessions, ContainerAddress: c.ProxyTarget == "container"},
		Checks: []handlers.Check{
			{Name: "database", Run: st.Ping},
			{Name: "docker", Run: func(ctx context.Context) error {
				var bad []string
				online := 0
				for _, h := range lc.Hosts() {
					if h.Online {
						online++
					} else {
						bad = append(bad, h.Name+": "+h.Err)
					}
				}
				if online == 0 {
					return fmt.Errorf("no Docker engine answers (%s)", strings.Join(bad, "; "))
				}
				return nil
			}},
		},
	})

	registerGauges(metrics, st, lc)
	lc.Start(ctx)
	defer lc.Stop()
	sweeper := auth.NewSessionSweeper(st, time.Hour, log)
	sweeper.Start(ctx)
	defer sweeper.Stop()
	culler := lifecycle.NewCuller(lc, srv, 30*time.Second)
	culler.Start(ctx)
	defer culler.Stop()

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	hs := &http.Server{
		Handler:           srv.Routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	var ps *http.Server
	if c.ProxyListen != "" {
		pln, err := net.Listen("tcp", c.ProxyListen)
		if err != nil {
			return fmt.Errorf("listen on %s (proxy-listen): %w", c.ProxyListen, err)
		}
		// No read or write timeouts: uploads and WebSockets may last.
		ps = &http.Server{Handler: srv.ProxyRoutes(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: hs.ErrorLog}
		go func() { errc <- ps.Serve(pln) }()
		log.Info("service proxy serving on its own origin", "address", pln.Addr().String(), "url", c.ProxyBaseURL)
	}
	log.Info("zoe serving", "address", ln.Addr().String(), "deployment", c.DeploymentName)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests still running at shutdown", "err", err)
	}
	if ps != nil {
		if err := ps.Shutdown(sctx); err != nil {
			log.Warn("proxied requests still running at shutdown", "err", err)
		}
	}
	return nil
}

// registerGauges exposes the platform's state on /metrics.
func registerGauges(m *handlers.Metrics, st *store.Store, lc *lifecycle.Manager) {
	m.Gauge("zoe_executions", "Executions by state.", func(ctx context.Context) []handlers.Sample {
		counts, err := st.CountExecutionsByStatus(ctx)
		if err != nil {
			return nil
		}
		var out []handlers.Sample
		for _, state := range []string{store.StatusSubmitted, store.StatusQueued, store.StatusStarting, store.StatusRunning, store.StatusCleaningUp, store.StatusTerminated, store.StatusError} {
			out = append(out, handlers.Sample{Labels: []string{"state", state}, Value: float64(counts[state])})
		}
		return out
	})
	m.Gauge("zoe_queue_length", "Executions waiting for resources.", func(context.Context) []handlers.Sample {
		return []handlers.Sample{{Value: float64(len(lc.Waits()))}}
	})
	m.Gauge("zoe_host_online", "Whether each Docker engine answers (1) or not (0).", func(context.Context) []handlers.Sample {
		var out []handlers.Sample
		for _, h := range lc.Hosts() {
			v := 0.0
			if h.Online {
				v = 1
			}
			out = append(out, handlers.Sample{Labels: []string{"host", h.Name}, Value: v})
		}
		return out
	})
	m.Gauge("zoe_host_memory_bytes", "Memory capacity of each Docker engine.", func(context.Context) []handlers.Sample {
		var out []handlers.Sample
		for _, h := range lc.Hosts() {
			out = append(out, handlers.Sample{Labels: []string{"host", h.Name}, Value: float64(h.Memory)})
		}
		return out
	})
	m.Gauge("zoe_host_cores", "CPU cores of each Docker engine.", func(context.Context) []handlers.Sample {
		var out []handlers.Sample
		for _, h := range lc.Hosts() {
			out = append(out, handlers.Sample{Labels: []string{"host", h.Name}, Value: float64(h.MilliCores) / 1000})
		}
		return out
	})
	m.Gauge("zoe_scheduler_passes_total", "Lifecycle passes since start.", func(context.Context) []handlers.Sample {
		return []handlers.Sample{{Value: float64(lc.Counters().Passes)}}
	})
}

// authenticator is the sign-in back-end auth-type names.
func authenticator(c *Config, st *store.Store, log *slog.Logger) (auth.Authenticator, error) {
	switch c.AuthType {
	case "text":
		if _, err := os.Stat(c.AuthFile); err != nil {
			return nil, fmt.Errorf("auth-file: %w", err)
		}
		return auth.NewTextFile(c.AuthFile, log), nil
	case "ldap":
		l, err := auth.NewLDAP(auth.LDAPConfig{
			URL: c.LDAPServerURI, BindDN: c.LDAPBindUser, BindPassword: c.LDAPBindPassword, BaseDN: c.LDAPBaseDN,
			AdminGroup: c.LDAPAdminGID, UserGroup: c.LDAPUserGID, GuestGroup: c.LDAPGuestGID, GroupName: c.LDAPGroupName,
		})
		if err != nil {
			return nil, fmt.Errorf("ldap: %w", err)
		}
		return l, nil
	}
	return auth.NewBuiltin(st), nil
}

// firstAdmin creates the admin account when there are no users yet.
func firstAdmin(ctx context.Context, st *store.Store, c *Config, log *slog.Logger) error {
	generated, err := auth.EnsureAdmin(ctx, st, c.AdminPassword)
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	if generated != "" {
		log.Warn("created the first account: admin; this password is shown only once", "username", "admin", "password", generated)
	}
	return nil
}

// parseVolumes reads additional-volumes: /host/path:name,...
func parseVolumes(s string) ([]lifecycle.Volume, error) {
	var out []lifecycle.Volume
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		path, name, ok := strings.Cut(item, ":")
		if !ok || !filepath.IsAbs(path) || name == "" || strings.ContainsAny(name, "/.") {
			return nil, fmt.Errorf("additional-volumes: %q: want /host/path:name", item)
		}
		out = append(out, lifecycle.Volume{HostPath: path, Name: name, ReadOnly: true})
	}
	return out, nil
}
