package handlers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// countedServer is an httptest server that counts the connections it
// accepted and closed.
type countedServer struct {
	*httptest.Server
	accepted, closed atomic.Int64
}

func newCountedServer(t *testing.T, h http.Handler) *countedServer {
	t.Helper()
	s := &countedServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.accepted.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// serviceHandler answers the paths the transport tests ask for.
func serviceHandler() http.Handler {
	big := bigData(1 << 20)
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range []string{"one ", "two ", "three"} {
			io.WriteString(w, s)
			http.NewResponseController(w).Flush()
		}
	})
	mux.HandleFunc("/empty/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(code)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(big)
	})
	mux.HandleFunc("/upload", serveDigest)
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "after hints")
	})
	return mux
}

// serveDigest answers with the length and SHA-256 of the request body.
func serveDigest(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
}

func bigData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%d %s", len(b), hex.EncodeToString(s[:]))
}

// roundTrip sends one request through tr and returns the status and body.
func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request) (int, string) {
	t.Helper()
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return res.StatusCode, string(b)
}

func (t *serviceTransport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

func TestServiceTransportExchanges(t *testing.T) {
	big := bigData(1 << 20) // far above the 32 KiB buffers
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		closeReq   bool
		wantStatus int
		wantBody   string
		wantConns  int64 // for three requests in a row
	}{
		{name: "keep-alive", method: "GET", path: "/page", wantStatus: 200, wantBody: "hello", wantConns: 1},
		{name: "service says Connection: close", method: "GET", path: "/close", wantStatus: 200, wantBody: "bye", wantConns: 3},
		{name: "request says Connection: close", method: "GET", path: "/page", closeReq: true, wantStatus: 200, wantBody: "hello", wantConns: 3},
		{name: "chunked", method: "GET", path: "/chunked", wantStatus: 200, wantBody: "one two three", wantConns: 1},
		{name: "HEAD", method: "HEAD", path: "/page", wantStatus: 200, wantBody: "", wantConns: 1},
		{name: "204", method: "GET", path: "/empty/204", wantStatus: 204, wantBody: "", wantConns: 1},
		{name: "304", method: "GET", path: "/empty/304", wantStatus: 304, wantBody: "", wantConns: 1},
		{name: "large download", method: "GET", path: "/big", wantStatus: 200, wantBody: string(big), wantConns: 1},
		{name: "large upload", method: "POST", path: "/upload", body: big, wantStatus: 200, wantBody: digest(big), wantConns: 1},
		{name: "small upload", method: "PUT", path: "/upload", body: []byte("abc"), wantStatus: 200, wantBody: digest([]byte("abc")), wantConns: 1},
		{name: "1xx skipped", method: "GET", path: "/hints", wantStatus: 200, wantBody: "after hints", wantConns: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountedServer(t, serviceHandler())
			tr := newServiceTransport(http.DefaultTransport)
			defer tr.CloseIdleConnections()
			for i := range 3 {
				var body io.Reader
				if tt.body != nil {
					// Not a bytes.Reader: a body that cannot be rewound,
					// as a browser's upload through ReverseProxy.
					body = io.MultiReader(bytes.NewReader(tt.body))
				}
				req, _ := http.NewRequest(tt.method, srv.URL+tt.path, body)
				req.Close = tt.closeReq
				if tt.body != nil {
					req.ContentLength = int64(len(tt.body))
				}
				status, got := roundTrip(t, tr, req)
				if status != tt.wantStatus || got != tt.wantBody {
					if len(got) > 64 {
						got = got[:64] + "…"
					}
					t.Fatalf("request %d: got %d %q, want %d and the expected body", i, status, got, tt.wantStatus)
				}
			}
			if got := srv.accepted.Load(); got != tt.wantConns {
				t.Errorf("got %d connections for three requests, want %d", got, tt.wantConns)
			}
		})
	}
}

func TestServiceTransportPassesEarlyHints(t *testing.T) {
	srv := newCountedServer(t, serviceHandler())
	tr := newServiceTransport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL+"/hints", nil)
	if status, body := roundTrip(t, tr, req); status != 200 || body != "after hints" {
		t.Fatalf("got %d %q, want 200 after hints", status, body)
	}
	if want := "103 </style.css>; rel=preload"; len(got) != 1 || got[0] != want {
		t.Errorf("got 1xx responses %q, want [%q]", got, want)
	}
}

func TestServiceTransportEarlyClose(t *testing.T) {
	srv := newCountedServer(t, serviceHandler())
	tr := newServiceTransport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL+"/big", nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := res.Body.Read(make([]byte, 1)); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Errorf("read after close: got %v, want ErrBodyReadAfterClose", err)
	}
	if n := tr.idleCount(); n != 0 {
		t.Errorf("got %d idle connections after a body closed early, want 0 (the rest of the body is still on it)", n)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/page", nil)
	if status, body := roundTrip(t, tr, req); status != 200 || body != "hello" {
		t.Fatalf("got %d %q, want 200 hello", status, body)
	}
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("got %d connections, want 2", got)
	}
}

// staleService answers the first request of its first connection, then
// closes that connection on the next request without answering, as a
// service does when its idle timeout fires just as a request comes. Later
// connections are answered normally.
type staleService struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newStaleService(t *testing.T) *staleService {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &staleService{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.accepted.Add(1)
			s.wg.Go(func() { s.serve(c, n == 1) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *staleService) serve(c net.Conn, stale bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; ; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if stale && i == 1 {
			return
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func TestServiceTransportStaleConnection(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		header    http.Header
		body      func() io.Reader
		wantRetry bool
	}{
		{name: "GET is retried", method: "GET", wantRetry: true},
		{name: "HEAD is retried", method: "HEAD", wantRetry: true},
		{name: "POST without a body is not", method: "POST"},
		{name: "POST with a body is not", method: "POST", body: func() io.Reader { return io.MultiReader(strings.NewReader("data")) }},
		{name: "PUT with Idempotency-Key and a body that rewinds is", method: "PUT", header: http.Header{"Idempotency-Key": {"k1"}}, body: func() io.Reader { return strings.NewReader("data") }, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStaleService(t)
			tr := newServiceTransport(http.DefaultTransport)
			defer tr.CloseIdleConnections()
			url := "http://" + s.ln.Addr().String() + "/"
			req, _ := http.NewRequest("GET", url, nil)
			if status, _ := roundTrip(t, tr, req); status != 200 {
				t.Fatalf("first request: got %d, want 200", status)
			}
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, _ = http.NewRequest(tt.method, url, body)
			for k, v := range tt.header {
				req.Header[k] = v
			}
			res, err := tr.RoundTrip(req)
			if tt.wantRetry {
				if err != nil {
					t.Fatalf("got %v, want the request retried on a fresh connection", err)
				}
				res.Body.Close()
				if res.StatusCode != 200 || s.accepted.Load() != 2 {
					t.Errorf("got %d on %d connections, want 200 on 2", res.StatusCode, s.accepted.Load())
				}
				return
			}
			if err == nil {
				res.Body.Close()
				t.Fatalf("got %d, want an error: the request may have been processed", res.StatusCode)
			}
			if got := s.accepted.Load(); got != 1 {
				t.Errorf("got %d connections, want 1: no retry", got)
			}
		})
	}
}

// TestServiceTransportIdleClosedByService checks that a connection the
// service closed while it sat idle is not used, even for a request that
// could not be retried.
func TestServiceTransportIdleClosedByService(t *testing.T) {
	srv := newCountedServer(t, serviceHandler())
	tr := newServiceTransport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL+"/page", nil)
	roundTrip(t, tr, req)
	srv.CloseClientConnections()
	// Wait until the service's FIN reached the pooled connection.
	for !func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, list := range tr.idle {
			return !alive(list[0].conn)
		}
		return true
	}() {
		time.Sleep(time.Millisecond)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/upload", io.MultiReader(strings.NewReader("abc")))
	if status, body := roundTrip(t, tr, req); status != 200 || body != digest([]byte("abc")) {
		t.Fatalf("got %d %q, want 200 and the digest", status, body)
	}
	if got := srv.accepted.Load(); got != 2 {
		t.Errorf("got %d connections, want 2", got)
	}
}

func TestServiceTransportCancel(t *testing.T) {
	tests := []struct {
		name string
		// headers: the service sends its headers and a first line before
		// it waits, so the cancellation comes while the body is read.
		headers bool
	}{
		{name: "waiting for the response"},
		{name: "reading the body", headers: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arrived, gone := make(chan struct{}), make(chan struct{})
			srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.headers {
					io.WriteString(w, "first\n")
					http.NewResponseController(w).Flush()
				}
				close(arrived)
				<-r.Context().Done()
				close(gone)
			}))
			tr := newServiceTransport(http.DefaultTransport)
			defer tr.CloseIdleConnections()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/", nil)
			type result struct {
				body string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				res, err := tr.RoundTrip(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				done <- result{string(b), err}
			}()
			<-arrived
			cancel()
			r := <-done
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("got %q, %v; want context.Canceled", r.body, r.err)
			}
			<-gone // the service saw the connection close
			if n := tr.idleCount(); n != 0 {
				t.Errorf("got %d idle connections, want 0", n)
			}
		})
	}
}

func TestServiceTransportIdlePool(t *testing.T) {
	const parallel = 4
	arrived, release := make(chan struct{}, parallel), make(chan struct{})
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	tr := newServiceTransport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	tr.idlePerHost = 2
	now := time.Now()
	var clock atomic.Int64
	tr.now = func() time.Time { return now.Add(time.Duration(clock.Load())) }

	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", srv.URL+"/held", nil)
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		})
	}
	for range parallel {
		<-arrived
	}
	close(release)
	wg.Wait()
	if got := tr.idleCount(); got != 2 {
		t.Fatalf("got %d idle connections after %d at once, want the per-host limit 2", got, parallel)
	}

	// Past the idle timeout, a request dials afresh and closes the
	// expired connections it finds.
	clock.Store(int64(proxyIdleTimeout + time.Second))
	req, _ := http.NewRequest("GET", srv.URL+"/page", nil)
	roundTrip(t, tr, req)
	if got := srv.accepted.Load(); got != parallel+1 {
		t.Errorf("got %d connections, want %d: expired ones must not be used", got, parallel+1)
	}
	if got := tr.idleCount(); got != 1 {
		t.Errorf("got %d idle connections, want 1 (the fresh one)", got)
	}

	// The sweep closes what no request came for.
	clock.Store(int64(2*proxyIdleTimeout + 2*time.Second))
	tr.sweepIdle()
	if got := tr.idleCount(); got != 0 {
		t.Errorf("got %d idle connections after the sweep, want 0", got)
	}
}

// TestServiceTransportHeaderLimit: a service cannot make Zoe buffer
// response headers without end.
func TestServiceTransportHeaderLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = http.ReadRequest(bufio.NewReader(c))
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		for range 2 * proxyMaxHeaderBytes / len(line) {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	tr := newServiceTransport(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/", nil)
	if res, err := tr.RoundTrip(req); !errors.Is(err, errHeadersTooLong) {
		if err == nil {
			res.Body.Close()
		}
		t.Fatalf("got %v, want errHeadersTooLong", err)
	}
}

// upgradeRecorder is the WebSocket transport in TestServiceTransportUpgrade.
type upgradeRecorder struct{ got *http.Request }

func (u *upgradeRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	u.got = r
	return nil, errors.New("recorded")
}

func TestServiceTransportUpgrade(t *testing.T) {
	up := &upgradeRecorder{}
	tr := newServiceTransport(up)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	if _, err := tr.RoundTrip(req); err == nil || up.got != req {
		t.Errorf("got %v, want the upgrade handed to the http.Transport", err)
	}
}

// TestProxyServiceConnections goes through the whole proxy: responses
// without bodies and large ones both ways, on one connection to the
// service.
func TestProxyServiceConnections(t *testing.T) {
	e := newProxyEnv(t, false)
	h := serviceHandler()
	srv := newCountedServer(t, http.StripPrefix("/proxy/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /proxy/{e}/web/8080/{rest}: the service handler sees {rest}.
		parts := strings.SplitN(r.URL.Path, "/", 4)
		r.URL.Path = "/" + parts[len(parts)-1]
		h.ServeHTTP(w, r)
	})))
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	id := e.execution(e.owner, store.StatusRunning, store.ServiceActive, port)
	c := e.client(&e.owner)
	big := bigData(3 << 20)
	tests := []struct {
		method, path string
		body         []byte
		wantStatus   int
		wantBody     string
	}{
		{"GET", "page", nil, 200, "hello"},
		{"HEAD", "page", nil, 200, ""},
		{"GET", "empty/204", nil, 204, ""},
		{"GET", "empty/304", nil, 304, ""},
		{"GET", "chunked", nil, 200, "one two three"},
		{"GET", "big", nil, 200, string(bigData(1 << 20))},
		{"POST", "upload", big, 200, digest(big)},
		{"GET", "hints", nil, 200, "after hints"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
			}
			res, got := do(t, c, tt.method, e.portal.URL+webPath(id, tt.path), body, nil)
			if res.StatusCode != tt.wantStatus || got != tt.wantBody {
				if len(got) > 64 {
					got = got[:64] + "…"
				}
				t.Errorf("got %d %q, want %d and the expected body", res.StatusCode, got, tt.wantStatus)
			}
		})
	}
	if got := srv.accepted.Load(); got != 1 {
		t.Errorf("got %d connections to the service for %d requests in a row, want 1", got, len(tests))
	}
}
