package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"time"
)

// serviceTransport is the proxy's round tripper for ordinary HTTP/1.1
// requests. The handler's goroutine writes the request on a pooled
// keep-alive connection and reads the response itself.
//
// Why not http.Transport: it hands every request across three goroutines
// (the caller, the connection's write loop and its read loop). On a small
// machine each handoff can be a thread wake-up, and a profile of zoe serve
// on one connection was dominated by context switches, not by Go code. Here
// a request costs no handoff at all, unless it has a body: that is written
// from a goroutine of its own, so that a service answering before it read
// the whole upload (413, say) is heard instead of deadlocking both ends.
//
// Requests that ask for an Upgrade (WebSockets) go to upgrade, an
// http.Transport: ReverseProxy needs the body of a 101 to be the
// connection itself. 1xx responses other than 101 reach ReverseProxy's
// trace, which passes them to the browser, as with http.Transport.
//
// Idle connections wait in a pool per address, newest last, with no
// goroutine each: an expired one is closed when a request finds it, and a
// timer sweeps the pool while it holds any.
type serviceTransport struct {
	upgrade     http.RoundTripper
	dialer      net.Dialer
	idlePerHost int
	idleTotal   int
	idleTimeout time.Duration
	bufferSize  int
	// now is time.Now except in tests of the idle timeout.
	now func() time.Time

	mu    sync.Mutex
	idle  map[string][]*serviceConn // by address, oldest first
	total int
	sweep *time.Timer // armed while idle holds a connection
}

// Header limits: a service cannot make Zoe buffer without end (the same
// default as http.Transport's MaxResponseHeaderBytes), nor send 1xx
// responses forever.
const (
	proxyMaxHeaderBytes = 10 << 20
	proxyMax1xx         = 5
)

func newServiceTransport(upgrade http.RoundTripper) *serviceTransport {
	return &serviceTransport{
		upgrade:     upgrade,
		dialer:      net.Dialer{Timeout: proxyDialTimeout, KeepAlive: 30 * time.Second},
		idlePerHost: proxyIdlePerHost,
		idleTotal:   proxyIdleTotal,
		idleTimeout: proxyIdleTimeout,
		bufferSize:  proxyBufferSize,
		now:         time.Now,
		idle:        make(map[string][]*serviceConn),
	}
}

// serviceConn is one connection to a service. Only the request that holds
// it touches it; the pool's mutex hands it from one request to the next.
type serviceConn struct {
	conn   net.Conn
	br     *bufio.Reader // reads through limit
	bw     *bufio.Writer
	addr   string
	limit  int64 // bytes the reader may still take while reading headers
	reused bool
	idleAt time.Time
}

var errHeadersTooLong = errors.New("service response headers exceed the limit")

// Read is what br reads from: the connection, bounded by limit.
func (c *serviceConn) Read(p []byte) (int, error) {
	if c.limit <= 0 {
		return 0, errHeadersTooLong
	}
	if int64(len(p)) > c.limit {
		p = p[:c.limit]
	}
	n, err := c.conn.Read(p)
	c.limit -= int64(n)
	return n, err
}

func (t *serviceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Upgrade") != "" {
		return t.upgrade.RoundTrip(req)
	}
	if req.URL.Scheme != "http" {
		closeBody(req)
		return nil, fmt.Errorf("proxy: unsupported scheme %q", req.URL.Scheme)
	}
	addr := req.URL.Host
	for retried := false; ; retried = true {
		c, err := t.conn(req.Context(), addr, retried)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		res, err := t.exchange(c, req)
		if err == nil {
			return res, nil
		}
		var early *beforeResponseError
		if retried || !c.reused || !errors.As(err, &early) || !replayable(req) || req.Context().Err() != nil {
			closeBody(req)
			return nil, err
		}
		// The service closed a connection that sat idle, before it could
		// have seen this request: try once more on a fresh one.
		if req, err = rewound(req); err != nil {
			return nil, err
		}
	}
}

// beforeResponseError is a failure before any byte of the response came.
type beforeResponseError struct{ err error }

func (e *beforeResponseError) Error() string { return e.err.Error() }
func (e *beforeResponseError) Unwrap() error { return e.err }

// replayable is net/http's rule for retrying a request on a connection
// the server closed: a body that can be sent again, and a method that is
// safe to repeat.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// rewound is req ready to be sent again.
func rewound(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("proxy: rewind request body: %w", err)
	}
	r := *req
	r.Body = body
	return &r, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// exchange sends req on c and reads the response head. It owns c: on error
// c is closed, and on success the response body gives it back.
func (t *serviceTransport) exchange(c *serviceConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// The browser going away closes the connection, which unblocks
	// whatever waits on it: the write, the response or its body.
	stop := context.AfterFunc(ctx, func() { _ = c.conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("proxy: %w", context.Cause(ctx))
		}
		return nil, err
	}
	var wrote chan error // nil when the request is written before reading
	if req.Body == nil || req.Body == http.NoBody {
		if err := t.write(c, req); err != nil {
			return fail(&beforeResponseError{err})
		}
	} else {
		wrote = make(chan error, 1)
		go func() { wrote <- t.write(c, req) }()
	}
	c.limit = proxyMaxHeaderBytes
	if _, err := c.br.Peek(1); err != nil {
		return fail(&beforeResponseError{fmt.Errorf("proxy: read response: %w", err)})
	}
	res, err := t.readResponse(c, req)
	if err != nil {
		return fail(err)
	}
	keep := !res.Close && !req.Close
	if res.Body == http.NoBody {
		// HEAD, 204, 304 and empty bodies: the connection is free now.
		t.release(c, stop, keep, wrote)
		return res, nil
	}
	res.Body = &serviceBody{ctx: ctx, body: res.Body, t: t, c: c, stop: stop, keep: keep, wrote: wrote}
	return res, nil
}

// write sends req on c.
func (t *serviceTransport) write(c *serviceConn, req *http.Request) error {
	if err := req.Write(c.bw); err != nil {
		return fmt.Errorf("proxy: write request: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("proxy: write request: %w", err)
	}
	return nil
}

// readResponse reads the final response head, handing 1xx responses to
// the request's trace (ReverseProxy's, which forwards them).
func (t *serviceTransport) readResponse(c *serviceConn, req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(req.Context())
	for n := 0; ; n++ {
		res, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, fmt.Errorf("proxy: read response: %w", err)
		}
		switch {
		case res.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("proxy: service switched protocols unasked")
		case res.StatusCode >= 100 && res.StatusCode < 200:
			if n == proxyMax1xx {
				return nil, errors.New("proxy: too many 1xx responses from the service")
			}
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
					return nil, err
				}
				c.limit = proxyMaxHeaderBytes // the browser got those headers
			}
			continue
		}
		c.limit = 1<<63 - 1 // the body is bounded by the browser's patience
		return res, nil
	}
}

// release ends a request's use of c: back to the pool when the exchange
// was complete and both sides keep the connection, closed otherwise.
func (t *serviceTransport) release(c *serviceConn, stop func() bool, keep bool, wrote chan error) {
	if !stop() {
		keep = false // the context closed c
	}
	if wrote != nil && keep {
		keep = writeDone(wrote)
	}
	// Bytes after a complete response are nothing this client asked for.
	if !keep || c.br.Buffered() > 0 || !t.put(c) {
		_ = c.conn.Close()
	}
}

// writeDone waits briefly for the goroutine sending a request body: the
// service has answered, usually after reading the whole body, and the
// goroutine may just not have said so yet (http.Transport waits the same
// 50 ms). A body still unsent after that is one the service did not wait
// for, and the connection is closed.
func writeDone(wrote chan error) bool {
	select {
	case err := <-wrote:
		return err == nil
	default:
	}
	timer := time.NewTimer(50 * time.Millisecond)
	defer timer.Stop()
	select {
	case err := <-wrote:
		return err == nil
	case <-timer.C:
		return false
	}
}

// serviceBody is a response body that gives its connection back at a clean
// end and closes it on an early Close or an error.
type serviceBody struct {
	ctx   context.Context
	body  io.ReadCloser
	t     *serviceTransport
	c     *serviceConn
	stop  func() bool
	keep  bool
	wrote chan error
	done  atomic.Bool
	eof   atomic.Bool
}

func (b *serviceBody) Read(p []byte) (int, error) {
	if b.done.Load() {
		if b.eof.Load() {
			return 0, io.EOF
		}
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		if b.done.CompareAndSwap(false, true) {
			b.eof.Store(true)
			b.t.release(b.c, b.stop, b.keep, b.wrote)
		}
	case err != nil:
		b.abort()
		if b.ctx.Err() != nil {
			err = fmt.Errorf("proxy: %w", context.Cause(b.ctx))
		}
	}
	return n, err
}

func (b *serviceBody) Close() error {
	b.abort()
	return nil
}

func (b *serviceBody) abort() {
	if b.done.CompareAndSwap(false, true) {
		b.stop()
		_ = b.c.conn.Close()
	}
}

// conn returns an idle connection to addr, or a new one when there is
// none or fresh is set.
func (t *serviceTransport) conn(ctx context.Context, addr string, fresh bool) (*serviceConn, error) {
	if !fresh {
		for {
			c := t.get(addr)
			if c == nil {
				break
			}
			if alive(c.conn) {
				c.reused = true
				return c, nil
			}
			_ = c.conn.Close()
		}
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	c := &serviceConn{conn: nc, addr: addr}
	c.br = bufio.NewReaderSize(c, t.bufferSize)
	c.bw = bufio.NewWriterSize(nc, t.bufferSize)
	return c, nil
}

// get takes the newest idle connection to addr that has not expired; the
// older ones expired too then, and are closed.
func (t *serviceTransport) get(addr string) *serviceConn {
	t.mu.Lock()
	list := t.idle[addr]
	if len(list) == 0 {
		t.mu.Unlock()
		return nil
	}
	c := list[len(list)-1]
	if t.now().Sub(c.idleAt) > t.idleTimeout {
		delete(t.idle, addr)
		t.total -= len(list)
		t.mu.Unlock()
		for _, e := range list {
			_ = e.conn.Close()
		}
		return nil
	}
	list[len(list)-1] = nil
	if len(list) == 1 {
		delete(t.idle, addr)
	} else {
		t.idle[addr] = list[:len(list)-1]
	}
	t.total--
	t.mu.Unlock()
	return c
}

// put pools c; false when the pool is full.
func (t *serviceTransport) put(c *serviceConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.idle[c.addr]
	if len(list) >= t.idlePerHost || t.total >= t.idleTotal {
		return false
	}
	c.idleAt = t.now()
	t.idle[c.addr] = append(list, c)
	t.total++
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.sweepIdle)
	}
	return true
}

// sweepIdle closes the connections that expired, and comes back while any
// are left.
func (t *serviceTransport) sweepIdle() {
	var expired []*serviceConn
	t.mu.Lock()
	now := t.now()
	for addr, list := range t.idle {
		n := 0
		for n < len(list) && now.Sub(list[n].idleAt) > t.idleTimeout {
			n++
		}
		if n == 0 {
			continue
		}
		expired = append(expired, list[:n]...)
		t.total -= n
		if n == len(list) {
			delete(t.idle, addr)
		} else {
			t.idle[addr] = append(list[:0:0], list[n:]...)
		}
	}
	if t.total > 0 {
		t.sweep.Reset(t.idleTimeout / 2)
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range expired {
		_ = c.conn.Close()
	}
}

// CloseIdleConnections closes every pooled connection.
func (t *serviceTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = make(map[string][]*serviceConn)
	t.total = 0
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			_ = c.conn.Close()
		}
	}
}
