package handlers

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/store"
)

// proxyPrefix is where the portal serves services; lifecycle gives
// services the same prefix as {proxy_path}.
const proxyPrefix = "/proxy"

// routeKey names a proxied port as the URL does.
type routeKey struct {
	execution int64
	service   string
	port      int
}

// parseRoute reads the three parts of /proxy/{execution}/{service}/{port}
// strictly: decimal numbers without signs or escapes, and a service name
// without escapes or dots, so that no spelling of a path can name another
// execution than the one it shows.
func parseRoute(execution, service, port string) (routeKey, bool) {
	id, ok := parseDecimal(execution)
	if !ok || id <= 0 {
		return routeKey{}, false
	}
	n, ok := parseDecimal(port)
	if !ok || n <= 0 || n > 65535 {
		return routeKey{}, false
	}
	if service == "" || strings.ContainsAny(service, "%/\\.") {
		return routeKey{}, false
	}
	return routeKey{execution: id, service: service, port: int(n)}, true
}

func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// parseProxyPath checks that next is a path under the proxy (with an
// optional query) and returns its route and the path to redirect to. It is
// what keeps /proxy-login from redirecting anywhere else.
func parseProxyPath(next string) (routeKey, string, bool) {
	if !strings.HasPrefix(next, proxyPrefix+"/") || strings.ContainsAny(next, "\\\x00\r\n") {
		return routeKey{}, "", false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || hasDotSegment(u.Path) || hasDotSegment(u.EscapedPath()) {
		return routeKey{}, "", false
	}
	parts := strings.SplitN(strings.TrimPrefix(u.EscapedPath(), proxyPrefix+"/"), "/", 4)
	if len(parts) < 3 {
		return routeKey{}, "", false
	}
	k, ok := parseRoute(parts[0], parts[1], parts[2])
	if !ok {
		return routeKey{}, "", false
	}
	return k, u.RequestURI(), true
}

// hasDotSegment reports whether a path has a "." or ".." segment, literal
// or escaped. Browsers never send them; anything that does is refused
// rather than interpreted.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		switch strings.ToLower(seg) {
		case ".", "..", "%2e", "%2e%2e", ".%2e", "%2e.":
			return true
		}
	}
	return false
}

// servicePrefix is the path a service's port is served under.
func servicePrefix(k routeKey) string {
	return lifecycle.ProxyPath(proxyPrefix, k.execution, k.service, k.port)
}

// targetAddr is where a published port is dialled. The engine records the
// host's external address; an unspecified one means this machine.
func targetAddr(p store.Port) string {
	host := p.ExternalIP
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(p.ExternalPort))
}

// dialAddr is where the proxy and its probes dial port p of svc: the
// published port, or with ProxyConfig.ContainerAddress the container's own
// address on its network (Zoe runs beside the engine and routes to its
// networks). ok is false while the service cannot be reached: not running,
// not TCP, or without the address the mode dials.
func (s *Server) dialAddr(svc store.Service, p store.Port) (addr string, ok bool) {
	if svc.Status != store.ServiceActive || svc.BackendStatus != store.BackendStarted ||
		(p.Protocol != "" && p.Protocol != "tcp") {
		return "", false
	}
	switch {
	case s.proxyCfg.ContainerAddress && svc.IPAddress != "":
		return net.JoinHostPort(svc.IPAddress, strconv.Itoa(p.Number)), true
	case !s.proxyCfg.ContainerAddress && p.ExternalPort > 0:
		return targetAddr(p), true
	}
	return "", false
}

// proxyTarget finds where k goes for u: the execution must be u's (or u
// an admin), active, and the service running with port k.port declared and
// published. Everything else is ErrNotFound, so that nobody learns which
// executions exist. Routes are cached for a second: a page load is dozens
// of requests, and a stopped service is refused a second later at most.
func (s *Server) proxyTarget(ctx context.Context, u *store.User, k routeKey) (*proxyTarget, error) {
	now := s.px.now()
	t, ok := s.px.routes.get(k, now)
	if !ok {
		var err error
		if t, err = s.lookupTarget(ctx, k); err != nil {
			return nil, err
		}
		s.px.routes.put(k, t, now)
	}
	if t.owner != u.ID && !auth.UserCan(u, auth.OperateOthers) {
		return nil, ErrNotFound
	}
	return t, nil
}

func (s *Server) lookupTarget(ctx context.Context, k routeKey) (*proxyTarget, error) {
	e, err := s.store.Execution(ctx, k.execution)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !store.IsActive(e.Status) {
		return nil, ErrNotFound
	}
	services, err := s.store.ExecutionServices(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	for _, svc := range services {
		if svc.Name != k.service {
			continue
		}
		for _, p := range svc.Ports {
			if p.Number != k.port {
				continue
			}
			if addr, ok := s.dialAddr(svc, p); ok {
				return &proxyTarget{
					execution: e.ID, owner: e.UserID, ownerName: e.Username,
					service: svc.Name, port: p.Number, addr: addr, prefix: servicePrefix(k),
				}, nil
			}
		}
	}
	return nil, ErrNotFound
}

// routeCache remembers resolved routes briefly.
type routeCache struct {
	mu      sync.Mutex
	entries map[routeKey]routeEntry
}

type routeEntry struct {
	t       *proxyTarget
	expires time.Time
}

func (c *routeCache) get(k routeKey, now time.Time) (*proxyTarget, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.t, true
}

func (c *routeCache) put(k routeKey, t *proxyTarget, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 1024 {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[k] = routeEntry{t: t, expires: now.Add(routeCacheLifetime)}
}

func (c *routeCache) drop(k routeKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}
