package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/backend/docker"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// engineEnv adds a lifecycle on the private test engine to a proxyEnv, so
// services are real containers with published ports.
type engineEnv struct {
	*proxyEnv
	lc *lifecycle.Manager
	be *docker.Backend
}

func newEngineEnv(t *testing.T, opts ...func(*ProxyConfig)) *engineEnv {
	t.Helper()
	addr := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if addr == "" {
		t.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test`")
	}
	e := &engineEnv{proxyEnv: newProxyEnv(t, false, opts...)}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dep := "px" + hex.EncodeToString(b)
	be, err := docker.New([]docker.HostConfig{{Name: "h1", Address: addr, ExternalAddress: "127.0.0.1"}}, docker.Options{Deployment: dep})
	if err != nil {
		t.Fatal(err)
	}
	sch, err := scheduler.New(scheduler.Config{Backfill: true})
	if err != nil {
		t.Fatal(err)
	}
	e.be = be
	e.lc = lifecycle.New(e.st, be, sch, lifecycle.Config{Deployment: dep, Workspaces: t.TempDir(), Resync: 500 * time.Millisecond})
	e.lc.Start(context.Background())
	t.Cleanup(func() {
		ctx := context.Background()
		active, _ := e.st.ActiveExecutions(ctx)
		for _, x := range active {
			_ = e.lc.Terminate(ctx, x.ID, "test over")
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if active, _ := e.st.ActiveExecutions(ctx); len(active) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		e.lc.Stop()
		cs, _ := be.List(ctx)
		for _, c := range cs {
			_ = be.Remove(ctx, c.Host, c.ID)
		}
		be.Close()
	})
	return e
}

// start submits d for owner and waits until its first service's first port
// is ready by endpointReady, which is what the portal waits for before it
// shows the link.
func (e *engineEnv) start(d *zapp.Description, wait time.Duration) (int64, store.Service) {
	e.t.Helper()
	id, err := e.lc.Submit(context.Background(), e.owner, lifecycle.Request{Name: d.Name, Description: d})
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	deadline := time.Now().Add(wait)
	for {
		services, err := e.st.ExecutionServices(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(services) > 0 && len(services[0].Ports) > 0 && e.srv.endpointReady(services[0], services[0].Ports[0]) {
			return id, services[0]
		}
		x, err := e.st.Execution(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if ended := store.IsEnded(x.Status); ended || time.Now().After(deadline) {
			why, _ := e.lc.Wait(id)
			evs, _ := e.st.Events(context.Background(), id)
			e.t.Fatalf("execution %d (%s): endpoint not ready after %s; status %q %s; waiting because %q; services %+v; history %+v",
				id, d.Name, wait, x.Status, x.ErrorMessage, why.Reason, services, evs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// busyboxWeb is a ZApp of one busybox httpd answering under its proxy path.
func busyboxWeb(t *testing.T) *zapp.Description {
	t.Helper()
	d, err := zapp.Parse([]byte(`{"name": "web", "version": 3, "will_end": false, "size": 1, "services": [{
		"name": "web", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
		"command": "sh -c 'mkdir -p /www{proxy_path} && echo hello from busybox > /www{proxy_path}index.html && exec httpd -f -p 8080 -h /www'",
		"environment": [], "volumes": [],
		"ports": [{"name": "web", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
		"resources": {"memory": {"min": "16MiB", "max": null}, "cores": {"min": 0.1, "max": null}}}]}`), zapp.TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestProxyContainerAddress has the proxy reach a service at its
// container's address (proxy-target = container), as a Zoe beside its
// engine does.
func TestProxyContainerAddress(t *testing.T) {
	e := newEngineEnv(t, func(c *ProxyConfig) { c.ContainerAddress = true })
	id, svc := e.start(busyboxWeb(t), 60*time.Second)
	if svc.IPAddress == "" {
		t.Fatalf("service %s has no container address", svc.Name)
	}
	tg, err := e.srv.proxyTarget(context.Background(), &e.owner, routeKey{execution: id, service: svc.Name, port: 8080})
	if err != nil {
		t.Fatal(err)
	}
	if want := net.JoinHostPort(svc.IPAddress, "8080"); tg.addr != want {
		t.Errorf("proxy dials %s, want the container's %s", tg.addr, want)
	}
	link, _ := e.srv.endpointURL(svc, svc.Ports[0])
	res, body := do(t, e.client(&e.owner), "GET", e.portal.URL+link, nil, nil)
	if res.StatusCode != http.StatusOK || body != "hello from busybox\n" {
		t.Fatalf("got %d %q, want the service's page", res.StatusCode, body)
	}
	if res, _ := do(t, e.client(&e.other), "GET", e.portal.URL+link, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("other user: got %d, want 404", res.StatusCode)
	}
}

func TestProxyBusyboxService(t *testing.T) {
	e := newEngineEnv(t)
	id, svc := e.start(busyboxWeb(t), 60*time.Second)
	link, web := e.srv.endpointURL(svc, svc.Ports[0])
	if want := fmt.Sprintf("/proxy/%d/%s/8080/", id, svc.Name); link != want || !web {
		t.Fatalf("got endpoint %q web %v, want %q true", link, web, want)
	}

	tests := []struct {
		name   string
		c      *http.Client
		status int
		body   string
	}{
		{"owner", e.client(&e.owner), http.StatusOK, "hello from busybox\n"},
		{"other user", e.client(&e.other), http.StatusNotFound, ""},
		{"admin warned", e.client(&e.admin), http.StatusSeeOther, ""},
		{"visitor", e.client(nil), http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, tt.c, "GET", e.portal.URL+link, nil, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("got %d %q, want %d", res.StatusCode, body, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("got body %q, want %q", body, tt.body)
			}
		})
	}

	if err := e.lc.Terminate(context.Background(), id, "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, _ := do(t, e.client(&e.owner), "GET", e.portal.URL+link, nil, nil)
		if res.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after termination: got %d, want 404", res.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProxyJupyter runs the sample shop's notebook through the proxy: the
// tree page, a kernel started over the REST API, a cell run over the
// kernel's WebSocket, a file uploaded and downloaded. It needs the image
// zoe/jupyter:6.4 (scripts/images.sh) and fails without it.
func TestProxyJupyter(t *testing.T) {
	requireImage(t, "zoe/jupyter:6.4")
	e := newEngineEnv(t)
	sh := shop.Open("../shop/sample", nil)
	z, ok := sh.Get("jupyter-0")
	if !ok {
		t.Fatalf("the sample shop has no jupyter-0: %v", sh.Problems())
	}
	d, err := z.Instantiate(shop.Request{})
	if err != nil {
		t.Fatal(err)
	}
	// The ZApp's limit of 4 cores can be more than the test machine has:
	// the lifecycle caps it to the host's, as it does for everyone.
	id, svc := e.start(d, 3*time.Minute)
	prefix := fmt.Sprintf("/proxy/%d/%s/8888/", id, svc.Name)
	base := e.portal.URL + prefix
	owner := e.client(&e.owner)

	res, body := do(t, owner, "GET", base+"tree", nil, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Jupyter") {
		t.Fatalf("tree: got %d, want Jupyter's page:\n%.500s", res.StatusCode, body)
	}
	pu, _ := url.Parse(base)
	var xsrf string
	for _, c := range owner.Jar.Cookies(pu) {
		if c.Name == "_xsrf" {
			xsrf = c.Value
		}
	}
	if xsrf == "" {
		t.Fatalf("got no _xsrf cookie for %s (cookies %v)", prefix, res.Header.Values("Set-Cookie"))
	}
	for _, sc := range res.Header.Values("Set-Cookie") {
		if !strings.Contains(sc, "Path="+prefix) {
			t.Errorf("got Set-Cookie %q, want it confined to %s", sc, prefix)
		}
	}
	api := http.Header{"X-XSRFToken": {xsrf}, "Content-Type": {"application/json"}}

	res, body = do(t, owner, "POST", base+"api/kernels", strings.NewReader(`{"name": "python3"}`), api)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("start kernel: got %d %q, want 201", res.StatusCode, body)
	}
	var kernel struct{ ID string }
	if err := json.Unmarshal([]byte(body), &kernel); err != nil || kernel.ID == "" {
		t.Fatalf("start kernel: got %q: %v", body, err)
	}

	t.Run("cell over the kernel's WebSocket", func(t *testing.T) {
		wsURL := base + "api/kernels/" + kernel.ID + "/channels?session_id=zoe-test"
		wu, _ := url.Parse(wsURL)
		ws, res := wsDial(t, wsURL, http.Header{"Cookie": {cookieHeader(owner.Jar.Cookies(wu))}})
		if ws == nil {
			t.Fatalf("got handshake status %d, want 101", res.StatusCode)
		}
		msg := map[string]any{
			"header":        map[string]any{"msg_id": "zoe-cell-1", "username": "alice", "session": "zoe-test", "msg_type": "execute_request", "version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
			"parent_header": map[string]any{},
			"metadata":      map[string]any{},
			"content":       map[string]any{"code": "print(6 * 7)", "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true},
			"buffers":       []any{},
			"channel":       "shell",
		}
		raw, _ := json.Marshal(msg)
		ws.send(t, string(raw))
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			var reply struct {
				Header struct {
					MsgType string `json:"msg_type"`
				} `json:"header"`
				ParentHeader struct {
					MsgID string `json:"msg_id"`
				} `json:"parent_header"`
				Content struct {
					Name, Text string
					Ename      string
				} `json:"content"`
			}
			if err := json.Unmarshal([]byte(ws.receive(t, 60*time.Second)), &reply); err != nil {
				t.Fatal(err)
			}
			if reply.ParentHeader.MsgID != "zoe-cell-1" {
				continue
			}
			if reply.Header.MsgType == "error" {
				t.Fatalf("the cell failed: %s", reply.Content.Ename)
			}
			if reply.Header.MsgType == "stream" {
				if reply.Content.Text != "42\n" {
					t.Fatalf("got output %q, want 42", reply.Content.Text)
				}
				return
			}
		}
		t.Fatal("the cell printed nothing within a minute")
	})

	t.Run("upload and download", func(t *testing.T) {
		content := strings.Repeat("zoe through the proxy\n", 50000) // about 1 MiB
		body, _ := json.Marshal(map[string]string{"type": "file", "format": "text", "content": content})
		res, got := do(t, owner, "PUT", base+"api/contents/zoe-upload.txt", strings.NewReader(string(body)), api)
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
			t.Fatalf("upload: got %d %q, want 201", res.StatusCode, got)
		}
		res, got = do(t, owner, "GET", base+"files/zoe-upload.txt?download=1", nil, nil)
		if res.StatusCode != http.StatusOK || got != content {
			t.Fatalf("download: got %d and %d bytes, want 200 and the %d bytes uploaded", res.StatusCode, len(got), len(content))
		}
	})

	t.Run("other user", func(t *testing.T) {
		if res, _ := do(t, e.client(&e.other), "GET", base+"tree", nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("got %d, want 404", res.StatusCode)
		}
	})
	if _, ok := e.srv.ProxyActivity(id); !ok {
		t.Error("got no proxy activity for the notebook")
	}
}
