// Package handlers is Zoe's HTTP edge: one route table (routes.go), thin
// handlers that parse, validate, call the shared operations
// (operations.go), the store or the execution service, and render a view
// or JSON. Only this package turns errors into statuses.
package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// Check is one readiness probe: a named dependency and how to ask it.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Logs reads a container's output from the back-end.
type Logs interface {
	Logs(ctx context.Context, host, containerID string, tail int, follow, timestamps bool) (io.ReadCloser, error)
}

// Server holds what the handlers need. Fields are set by New from Deps.
type Server struct {
	log        *slog.Logger
	version    string
	deployment string
	checks     []Check
	metrics    *Metrics
	started    time.Time

	store    *store.Store
	shop     *shop.Shop
	lc       *lifecycle.Manager
	sessions *auth.Sessions
	gate     *auth.Gate
	logs     Logs
	limits   shop.Limits
	proxyCfg ProxyConfig
	px       *proxyState // proxy.go: transport, caches, activity, tickets
	snaps    *snapshots  // snapshots.go: what status polls read from the store
}

// ProxyConfig says where services are reached.
type ProxyConfig struct {
	// BaseURL is the origin of the service proxy when it runs on its own
	// listener (proxy-base-url); empty when it shares the portal's origin.
	BaseURL string
	// PortalURL is where the proxy origin sends visitors to sign in
	// (public-url). Without it they are told to open services from the
	// portal: a Host header is no base for a redirect.
	PortalURL string
	// Sessions are the proxy origin's own sessions: auth.NewSessions with
	// the portal's secret and CookieName "zoe_proxy", so that a cookie of
	// one origin never overwrites the other's on a shared host name.
	// Required with BaseURL.
	Sessions *auth.Sessions
	// ContainerAddress makes the proxy dial services at their containers'
	// addresses instead of their published ports (proxy-target =
	// container): for a Zoe running beside its engine, with a route to the
	// containers' networks.
	ContainerAddress bool
}

// Deps are the handlers' collaborators, built by zoe serve.
type Deps struct {
	Logger     *slog.Logger
	Version    string
	Deployment string
	// Checks are run by /readyz: the database and the container back-end.
	Checks    []Check
	Metrics   *Metrics
	Store     *store.Store
	Shop      *shop.Shop
	Lifecycle *lifecycle.Manager
	Sessions  *auth.Sessions
	Gate      *auth.Gate
	Logs      Logs
	Limits    shop.Limits
	Proxy     ProxyConfig
}

// New returns a Server; Routes gives its handler.
func New(d Deps) *Server {
	if d.Metrics == nil {
		d.Metrics = NewMetrics()
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Server{
		log: d.Logger, version: d.Version, deployment: d.Deployment, checks: d.Checks, metrics: d.Metrics, started: time.Now(),
		store: d.Store, shop: d.Shop, lc: d.Lifecycle, sessions: d.Sessions, gate: d.Gate, logs: d.Logs, limits: d.Limits, proxyCfg: d.Proxy,
		px: newProxyState(d.Logger), snaps: newSnapshots(),
	}
}

// serverError logs err once and answers 500 without leaking its text.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}
