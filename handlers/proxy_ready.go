package handlers

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// Probing: an endpoint is shown once its port answers. Each endpoint is
// probed at most once per probeEvery; callers in between get the last
// answer, and callers during a probe wait for it rather than start another.
const (
	probeEvery   = time.Second
	probeTimeout = 500 * time.Millisecond
)

// isWebPort reports whether users reach a port with a browser, through the
// proxy: it is marked proxy, or its URL template is an HTTP one.
func isWebPort(p store.Port) bool {
	if p.Protocol != "" && p.Protocol != "tcp" {
		return false
	}
	t := strings.ToLower(p.URLTemplate)
	return p.Proxy || strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://")
}

// endpointReady reports whether a port of a running service answers: an
// HTTP request under its proxy path gets a response (any but 502, 503 or
// 504, which proxies inside containers give before their back-end is up)
// for web ports, a TCP connection is accepted for the others. The portal
// and the API show an endpoint only once this is true.
func (s *Server) endpointReady(svc store.Service, port store.Port) bool {
	addr, ok := s.dialAddr(svc, port)
	if !ok {
		return false
	}
	if !isWebPort(port) {
		return s.px.probes.ready("tcp "+addr, s.px.now, func(ctx context.Context) bool {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		})
	}
	target := "http://" + addr + servicePrefix(routeKey{execution: svc.ExecutionID, service: svc.Name, port: port.Number})
	return s.px.probes.ready("http "+target, s.px.now, func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return false
		}
		res, err := s.px.transport.RoundTrip(req)
		if err != nil {
			return false
		}
		_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
		_ = res.Body.Close()
		switch res.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return false
		}
		return true
	})
}

// endpointURL is where users reach a port: for web ports the proxy path
// (through the portal's handoff page when services have an origin of their
// own), with web true; for the others host:port as the engine published
// it. It is empty when the port is not published.
func (s *Server) endpointURL(svc store.Service, port store.Port) (u string, web bool) {
	if port.ExternalPort == 0 {
		return "", false
	}
	if !isWebPort(port) {
		return targetAddr(port), false
	}
	p := servicePrefix(routeKey{execution: svc.ExecutionID, service: svc.Name, port: port.Number})
	if s.proxyCfg.BaseURL != "" {
		return proxyLoginPath + "?next=" + url.QueryEscape(p), true
	}
	return p, true
}

// prober runs probes and remembers their answers.
type prober struct {
	mu      sync.Mutex
	entries map[string]*probe
}

type probe struct {
	at      time.Time
	ok      bool
	running chan struct{} // closed when the probe in flight ends; nil when none
}

func (p *prober) ready(key string, now func() time.Time, run func(ctx context.Context) bool) bool {
	p.mu.Lock()
	e := p.entries[key]
	switch {
	case e != nil && e.running != nil:
		ch := e.running
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
		defer p.mu.Unlock()
		return e.ok
	case e != nil && now().Sub(e.at) < probeEvery:
		defer p.mu.Unlock()
		return e.ok
	case e == nil:
		p.forgetOld(now())
		e = &probe{}
		p.entries[key] = e
	}
	e.running = make(chan struct{})
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	ok := run(ctx)
	cancel()

	p.mu.Lock()
	defer p.mu.Unlock()
	e.ok, e.at = ok, now()
	close(e.running)
	e.running = nil
	return ok
}

// forgetOld drops the answers about endpoints nobody asked about for a
// minute (ended executions), once there are many. Called with mu held.
func (p *prober) forgetOld(now time.Time) {
	if len(p.entries) < 256 {
		return
	}
	for k, e := range p.entries {
		if e.running == nil && now.Sub(e.at) > time.Minute {
			delete(p.entries, k)
		}
	}
}
