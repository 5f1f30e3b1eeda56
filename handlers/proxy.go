package handlers

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoe-analytics/zoe/auth"
)

// The service proxy: /proxy/{execution}/{service}/{port}/… reaches the
// port a service's container published, for the execution's owner and
// admins. The path is forwarded unchanged because services serve under
// {proxy_path} (Jupyter's base_url), so links they write stay correct.
//
// What never crosses the proxy, in either direction:
//   - the portal's cookies (every name starting with portalCookiePrefix)
//     and the Authorization and CSRF headers, towards services;
//   - cookies for paths outside the service's own prefix or for other
//     domains, cookies named like the portal's, and the headers that would
//     let a service act on the whole origin (Service-Worker-Allowed,
//     Clear-Site-Data), towards browsers.

// portalCookiePrefix starts the name of every cookie Zoe itself sets: the
// session (zoe_session), its CSRF cookie and the proxy origin's session
// (zoe_proxy).
const portalCookiePrefix = "zoe_"

// proxyState is the proxy's shared machinery: one transport for every
// service (so connections are pooled; http.Transport for WebSockets and
// probes, serviceTransport for the rest), the cache of routes, readiness
// probes, activity, and the tickets and confirmations of the sign-in
// handoff. Everything is in memory: a restart costs a probe, a sign-in
// redirect and a confirmation, nothing more.
type proxyState struct {
	log       *slog.Logger
	transport *http.Transport
	service   *serviceTransport
	rp        *httputil.ReverseProxy
	clock     atomic.Pointer[func() time.Time]

	routes   routeCache
	probes   prober
	activity activity
	handoff  handoff
	warning  *template.Template
}

// now is the proxy's clock: time.Now unless a test set another with
// setClock. It is safe to read from connections still open while a test
// changes it.
func (p *proxyState) now() time.Time {
	if f := p.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// setClock replaces the proxy's clock; nil restores time.Now.
func (p *proxyState) setClock(f func() time.Time) {
	if f == nil {
		p.clock.Store(nil)
		return
	}
	p.clock.Store(&f)
}

// Transport tuning. The proxy usually talks to a handful of services, each
// with many concurrent requests from one browser (Jupyter opens a dozen),
// so idle connections per host are kept generously.
const (
	proxyDialTimeout   = 5 * time.Second
	proxyIdlePerHost   = 256
	proxyIdleTotal     = 1024
	proxyIdleTimeout   = 90 * time.Second
	proxyBufferSize    = 32 << 10
	routeCacheLifetime = time.Second
)

func newProxyState(log *slog.Logger) *proxyState {
	if log == nil {
		log = slog.Default()
	}
	p := &proxyState{log: log}
	p.transport = &http.Transport{
		// Services are reached directly, never through an HTTP proxy taken
		// from the environment.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: proxyDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          proxyIdleTotal,
		MaxIdleConnsPerHost:   proxyIdlePerHost,
		IdleConnTimeout:       proxyIdleTimeout,
		ExpectContinueTimeout: time.Second,
		// Pass the browser's Accept-Encoding through instead of
		// decompressing on the browser's behalf.
		DisableCompression: true,
		ReadBufferSize:     proxyBufferSize,
		WriteBufferSize:    proxyBufferSize,
	}
	p.service = newServiceTransport(p.transport)
	p.rp = &httputil.ReverseProxy{
		Rewrite:   rewriteToService,
		Transport: p.service,
		// Zero, not -1: ReverseProxy already flushes every write of a
		// response without a length (a stream: notebook output, logs) and
		// of text/event-stream. A response of known length is written once,
		// headers and body together, instead of a syscall per write.
		FlushInterval:  0,
		BufferPool:     newBufferPool(proxyBufferSize),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.serviceError,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	p.routes.entries = make(map[routeKey]routeEntry)
	p.probes.entries = make(map[string]*probe)
	p.handoff.tickets = make(map[string]ticket)
	p.handoff.acks = make(map[ackKey]time.Time)
	p.warning = template.Must(template.New("warning").Parse(proxyWarningPage))
	return p
}

// proxyTarget is where one request goes: a port published by a running
// service, and whose it is.
type proxyTarget struct {
	execution int64
	owner     int64
	ownerName string
	service   string
	port      int
	addr      string // host:port the engine published
	prefix    string // /proxy/{execution}/{service}/{port}/
}

type targetCtxKey struct{}

func targetOf(r *http.Request) *proxyTarget {
	t, _ := r.Context().Value(targetCtxKey{}).(*proxyTarget)
	return t
}

// rewriteToService points the outgoing request at the service and removes
// what belongs to the portal. Rewrite (unlike Director) runs after the
// hop-by-hop and client-sent X-Forwarded-* headers were removed, so a
// browser cannot spoof those.
func rewriteToService(pr *httputil.ProxyRequest) {
	t := targetOf(pr.In)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = t.addr
	// Keep the browser's Host: services that build absolute URLs or check
	// the origin of WebSockets compare it with Origin.
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	pr.Out.Header.Set("X-Forwarded-Prefix", strings.TrimSuffix(t.prefix, "/"))
	pr.Out.Header.Del("Authorization")
	pr.Out.Header.Del(auth.CSRFHeader)
	stripPortalCookies(pr.Out.Header)
}

// stripPortalCookies removes Zoe's own cookies from the Cookie headers.
func stripPortalCookies(h http.Header) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	dirty := false
	for _, line := range lines {
		if strings.Contains(line, portalCookiePrefix) {
			dirty = true
			break
		}
	}
	if !dirty {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || strings.HasPrefix(strings.TrimSpace(name), portalCookiePrefix) {
				continue
			}
			kept = append(kept, part)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// modifyResponse confines what a service may tell the browser, and counts
// WebSocket traffic as activity.
func (p *proxyState) modifyResponse(res *http.Response) error {
	t := targetOf(res.Request)
	confineCookies(res.Header, t.prefix)
	// A service worker allowed a scope of "/" would control every page of
	// the origin, the portal's included; Clear-Site-Data would sign the
	// user out of the portal.
	res.Header.Del("Service-Worker-Allowed")
	res.Header.Del("Clear-Site-Data")
	if res.StatusCode == http.StatusSwitchingProtocols {
		if conn, ok := res.Body.(io.ReadWriteCloser); ok {
			res.Body = &activeConn{ReadWriteCloser: conn, touch: func() { p.activity.touch(t.execution, p.now()) }}
		}
	}
	return nil
}

// confineCookies rewrites the Set-Cookie headers of a service so that its
// cookies live under prefix on this host only. Cookies that cannot be
// parsed, or that are named like the portal's, are dropped.
func confineCookies(h http.Header, prefix string) {
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		return
	}
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil || len(c.Name) >= len(portalCookiePrefix) && strings.EqualFold(c.Name[:len(portalCookiePrefix)], portalCookiePrefix) {
			continue
		}
		if !cookiePathWithin(c.Path, prefix) {
			c.Path = prefix
		}
		c.Domain = "" // host-only: a parent domain could reach the portal's host
		if v := c.String(); v != "" {
			out = append(out, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range out {
		h.Add("Set-Cookie", v)
	}
}

// cookiePathWithin reports whether a cookie path only matches requests under
// prefix (which ends with a slash).
func cookiePathWithin(path, prefix string) bool {
	if path == "" || strings.Contains(path, "..") || strings.Contains(path, "%") {
		return false
	}
	return strings.HasPrefix(path, prefix) || path == strings.TrimSuffix(prefix, "/")
}

// serviceError answers when the service could not be reached or broke off.
func (p *proxyState) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	t := targetOf(r)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The browser went away; there is nobody to answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	// Forget the route: when the service stopped, the next request learns
	// it from the store (404) instead of dialling a dead port again.
	p.routes.drop(routeKey{execution: t.execution, service: t.service, port: t.port})
	p.log.Warn("service does not answer", "execution", t.execution, "service", t.service, "port", t.port, "address", t.addr, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "502 Bad Gateway: service %s of execution %d does not answer on port %d.\n"+
		"It may still be starting, or it stopped; try again in a moment, or look at its logs in Zoe.\n", t.service, t.execution, t.port)
}

// activeConn is the back-end side of an upgraded connection (a WebSocket);
// traffic either way keeps the execution from being idle.
type activeConn struct {
	io.ReadWriteCloser
	touch func()
}

func (c *activeConn) Read(b []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *activeConn) Write(b []byte) (int, error) {
	n, err := c.ReadWriteCloser.Write(b)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// bufferPool lends the copy buffers of proxied bodies, so that streaming
// many large responses does not allocate a buffer for each.
type bufferPool struct {
	size int
	pool sync.Pool
}

func newBufferPool(size int) *bufferPool { return &bufferPool{size: size} }

func (b *bufferPool) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, b.size)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != b.size {
		return
	}
	buf = buf[:b.size]
	b.pool.Put(&buf)
}
