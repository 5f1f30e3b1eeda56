// Package docker runs Zoe's containers on one or more Docker engines.
//
// A Backend holds one API client per configured host. It starts and removes
// containers and networks, reports each host's capacity and images (Check),
// lists this deployment's containers (List) and merges the engines' event
// streams (Events). Everything it creates is labelled with the deployment
// name, and it only ever lists, watches or removes what carries that label,
// so that several deployments, or other software, can share an engine.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/zoe-analytics/zoe/backend"
)

// Options configure a Backend.
type Options struct {
	// Deployment names this Zoe instance; it is written on everything the
	// back-end creates and is the filter for everything it lists.
	Deployment string
	Logger     *slog.Logger
	// CheckTimeout bounds each host's share of Check. Default 10 s.
	CheckTimeout time.Duration
	// EventsPing is how often an event stream checks that its engine is
	// still there, for engines whose connection hangs instead of closing.
	// Default 10 s.
	EventsPing time.Duration
	// ImagePull says whether EnsureImage pulls an image a host lacks.
	// Default backend.PullMissing.
	ImagePull backend.ImagePull
	// PullTimeout bounds one pull. Default 10 min.
	PullTimeout time.Duration
}

// Backend talks to the configured Docker engines.
type Backend struct {
	deployment string
	log        *slog.Logger
	opts       Options
	hosts      []*host
	byName     map[string]*host
}

type host struct {
	cfg    HostConfig
	cli    *client.Client
	bindIP string // where ports are published

	negMu      sync.Mutex
	negotiated atomic.Bool

	mu     sync.Mutex
	status backend.HostStatus
}

// New creates one client per host; it does not contact the engines (Check
// does). A TLS host needs its client certificate, key and CA to be readable.
func New(hosts []HostConfig, opts Options) (*Backend, error) {
	if opts.Deployment == "" {
		return nil, errors.New("new docker back-end: deployment name is empty")
	}
	if len(hosts) == 0 {
		return nil, errors.New("new docker back-end: no hosts")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 10 * time.Second
	}
	if opts.EventsPing <= 0 {
		opts.EventsPing = 10 * time.Second
	}
	switch opts.ImagePull {
	case "":
		opts.ImagePull = backend.PullMissing
	case backend.PullMissing, backend.PullNever:
	default:
		return nil, fmt.Errorf("new docker back-end: image pull %q: want %s or %s", opts.ImagePull, backend.PullMissing, backend.PullNever)
	}
	if opts.PullTimeout <= 0 {
		opts.PullTimeout = 10 * time.Minute
	}
	b := &Backend{
		deployment: opts.Deployment,
		log:        opts.Logger,
		opts:       opts,
		byName:     make(map[string]*host, len(hosts)),
	}
	for _, cfg := range hosts {
		if _, dup := b.byName[cfg.Name]; dup {
			b.Close()
			return nil, fmt.Errorf("new docker back-end: host %s defined twice", cfg.Name)
		}
		cli, err := newClient(cfg)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("new docker back-end: host %s: %w", cfg.Name, err)
		}
		h := &host{cfg: cfg, cli: cli, bindIP: bindIP(cfg.ExternalAddress)}
		h.status = backend.HostStatus{
			Name:            cfg.Name,
			ExternalAddress: cfg.ExternalAddress,
			Labels:          cfg.Labels,
			Disabled:        slices.Contains(cfg.Labels, backend.LabelDisabled),
			Err:             "not checked yet",
		}
		b.hosts = append(b.hosts, h)
		b.byName[cfg.Name] = h
	}
	return b, nil
}

func newClient(cfg HostConfig) (*client.Client, error) {
	opts := []client.Opt{client.WithHost(cfg.Address), client.WithAPIVersionNegotiation()}
	if cfg.TLS {
		// Check the files first: the client's own error does not say which
		// one is missing.
		for _, f := range []struct{ key, path string }{{"tls_cert", cfg.TLSCert}, {"tls_key", cfg.TLSKey}, {"tls_ca", cfg.TLSCA}} {
			if f.path == "" {
				return nil, fmt.Errorf("%s: missing (use_tls is on)", f.key)
			}
			if err := readable(f.path); err != nil {
				return nil, fmt.Errorf("%s: %w", f.key, err)
			}
		}
		opts = append(opts, client.WithTLSClientConfig(cfg.TLSCA, cfg.TLSCert, cfg.TLSKey))
	}
	return client.NewClientWithOpts(opts...)
}

// Close releases the clients' idle connections.
func (b *Backend) Close() error {
	for _, h := range b.hosts {
		h.cli.Close()
	}
	return nil
}

// Deployment is the deployment name the back-end labels and filters with.
func (b *Backend) Deployment() string { return b.deployment }

// Hosts returns the configured hosts in file order.
func (b *Backend) Hosts() []HostConfig {
	out := make([]HostConfig, len(b.hosts))
	for i, h := range b.hosts {
		out[i] = h.cfg
	}
	return out
}

// host finds a host by name and makes sure its client is ready to use.
func (b *Backend) host(ctx context.Context, name string) (*host, error) {
	h, ok := b.byName[name]
	if !ok {
		return nil, fmt.Errorf("host %s: %w", name, backend.ErrUnknownHost)
	}
	if err := h.ready(ctx); err != nil {
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	return h, nil
}

// ready negotiates the API version once, before the client makes any other
// request. The client would do it lazily, but some of its calls (Events)
// read the version without its lock, which races with a negotiation running
// in another goroutine; after this the version is never written again.
func (h *host) ready(ctx context.Context) error {
	if h.negotiated.Load() {
		return nil
	}
	h.negMu.Lock()
	defer h.negMu.Unlock()
	if h.negotiated.Load() {
		return nil
	}
	ping, err := h.cli.Ping(ctx)
	if err != nil {
		return classify(err)
	}
	h.cli.NegotiateAPIVersionPing(ping)
	h.negotiated.Store(true)
	return nil
}

// bindIP keeps containers of a host that users reach on a loopback address
// off the other interfaces.
func bindIP(external string) string {
	if external == "localhost" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(external); ip != nil && ip.IsLoopback() {
		return "127.0.0.1"
	}
	return "0.0.0.0"
}

// classify attaches the back-end's sentinel to an engine error so that the
// lifecycle can tell a retry from a failure without knowing Docker.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err), isNetError(err):
		return fmt.Errorf("%w: %w", backend.ErrHostUnreachable, err)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: %w", backend.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%w: %w", backend.ErrConflict, err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%w: %w", backend.ErrInvalidSpec, err)
	}
	return err
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// cleanupContext outlives a cancelled request: removing a half-made
// container must still happen when the caller gave up.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

func isNotFound(err error) bool  { return errors.Is(err, backend.ErrNotFound) }
func isConflict(err error) bool  { return errors.Is(err, backend.ErrConflict) }
func isForbidden(err error) bool { return cerrdefs.IsPermissionDenied(err) }
