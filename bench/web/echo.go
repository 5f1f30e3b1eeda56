package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"time"

	"github.com/zoe-analytics/zoe/bench/load"
)

// echoService is the running bench/echo service: its execution, its path
// through the proxy and its published address.
type echoService struct {
	execution int64
	proxyPath string // /proxy/{execution}/{service}/{port}/
	direct    string // http://127.0.0.1:port/
}

// api calls the JSON API as the admin.
func (z *zoeProc) api(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, z.base+path, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	res, err := z.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// launchEcho starts a one-service ZApp of the echo image through the API
// and waits until its endpoint answers.
func (z *zoeProc) launchEcho(ctx context.Context, image string) (echoService, error) {
	desc := map[string]any{
		"name": "echo", "version": 3, "will_end": false, "size": 1,
		"services": []any{map[string]any{
			"name": "web", "image": image, "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0,
			"command": nil, "environment": []any{}, "volumes": []any{},
			"ports":     []any{map[string]any{"name": "web", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}/", "proxy": true}},
			"resources": map[string]any{"memory": map[string]any{"min": 64 << 20, "max": nil}, "cores": map[string]any{"min": 0.1, "max": 2}},
		}},
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := z.api(ctx, http.MethodPost, "/api/v1/executions", map[string]any{"name": "bench echo", "description": desc}, &created); err != nil {
		return echoService{}, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var x struct {
			Status   string `json:"status"`
			Error    string `json:"error"`
			Services []struct {
				Endpoints []struct {
					URL       string `json:"url"`
					ProxyPath string `json:"proxy_path"`
				} `json:"endpoints"`
			} `json:"services"`
		}
		if err := z.api(ctx, http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", created.ID), nil, &x); err != nil {
			return echoService{}, err
		}
		if x.Status == "error" || x.Status == "terminated" {
			return echoService{}, fmt.Errorf("echo execution %d: %s: %s", created.ID, x.Status, x.Error)
		}
		if x.Status == "running" && len(x.Services) == 1 && len(x.Services[0].Endpoints) == 1 && x.Services[0].Endpoints[0].URL != "" {
			ep := x.Services[0].Endpoints[0]
			s := echoService{execution: created.ID, proxyPath: ep.ProxyPath, direct: ep.URL}
			if err := load.Get(ctx, z.http, s.direct, nil, http.StatusOK); err == nil {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return echoService{}, fmt.Errorf("echo execution %d not answering after 60 s", created.ID)
}

func (z *zoeProc) terminate(id int64) {
	_ = z.api(context.Background(), http.MethodPost, fmt.Sprintf("/api/v1/executions/%d/terminate", id), nil, nil)
	// The container must be gone before zoe serve stops, or it outlives
	// the run on the engine.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var x struct {
			Status string `json:"status"`
		}
		if z.api(context.Background(), http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", id), nil, &x) != nil || x.Status == "terminated" || x.Status == "error" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bareLimit runs bench/echo on the host and loads it like the portal: what
// net/http and the load generator reach on this machine with nothing
// behind the handler.
func bareLimit(ctx context.Context, o options) (load.Result, error) {
	if o.echoBin == "" {
		return load.Result{}, fmt.Errorf("-echo is required for the bare net/http ceiling")
	}
	addr, err := freeAddr()
	if err != nil {
		return load.Result{}, err
	}
	cmd := exec.CommandContext(ctx, o.echoBin, "-listen", addr)
	if err := cmd.Start(); err != nil {
		return load.Result{}, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	target := "http://" + addr + "/"
	c := load.Clients(1)[0]
	for i := 0; load.Get(ctx, c, target, nil, http.StatusOK) != nil; i++ {
		if i > 100 {
			return load.Result{}, fmt.Errorf("bench/echo on %s did not answer", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return getLoad(ctx, o.concurrency, o.duration, target, nil), nil
}

// getLoad GETs target with n keep-alive connections for d.
func getLoad(ctx context.Context, n int, d time.Duration, target string, header http.Header) load.Result {
	cs := load.Clients(n)
	return load.Run(ctx, load.Config{Workers: n, Duration: d, Warmup: 20}, func(ctx context.Context, w int) error {
		return load.Get(ctx, cs[w], target, header, http.StatusOK)
	})
}
