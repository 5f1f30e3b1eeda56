package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/zoe-analytics/zoe/bench/load"
)

// proxySide is one zoe serve and the echo service it launched: the proxy
// reaches the service at target (proxy-target), and direct is the service
// at that same address without Zoe, so that the two differ by one hop.
type proxySide struct {
	target string // "published" or "container"
	z      *zoeProc
	cookie string
	svc    echoService
	direct string
}

// containerSide starts a second zoe serve, with proxy-target = container,
// on a store of its own seeded like the first, and launches the echo
// service there. stop terminates the service and the server.
func containerSide(ctx context.Context, o options, tmp string) (proxySide, func(), error) {
	var undo []func()
	stop := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	dir := filepath.Join(tmp, "container")
	dbURL := ""
	if o.postgres != "" {
		u, drop, err := freshDatabase(ctx, o.postgres)
		if err != nil {
			return proxySide{}, nil, err
		}
		dbURL = u
		undo = append(undo, drop)
	}
	if err := seed(ctx, dbURL, filepath.Join(dir, "data"), o.executions); err != nil {
		stop()
		return proxySide{}, nil, fmt.Errorf("seed the store: %w", err)
	}
	z, err := startZoe(ctx, o, dir, dbURL, "container")
	if err != nil {
		stop()
		return proxySide{}, nil, err
	}
	undo = append(undo, z.stop)
	cookie, err := z.login(ctx)
	if err != nil {
		stop()
		return proxySide{}, nil, err
	}
	svc, err := z.launchEcho(ctx, o.echoImage)
	if err != nil {
		stop()
		return proxySide{}, nil, err
	}
	undo = append(undo, func() { z.terminate(svc.execution) })
	ip, err := containerIP(ctx, o.docker, z.deployment, svc.execution)
	if err != nil {
		stop()
		return proxySide{}, nil, err
	}
	direct := "http://" + net.JoinHostPort(ip, "8080") + "/"
	if err := load.Get(ctx, z.http, direct, nil, http.StatusOK); err != nil {
		stop()
		return proxySide{}, nil, fmt.Errorf("the echo service at its container address: %w", err)
	}
	return proxySide{target: "container", z: z, cookie: cookie, svc: svc, direct: direct}, stop, nil
}

// containerIP is the address of execution's container on its network,
// as the engine reports it.
func containerIP(ctx context.Context, host, deployment string, execution int64) (string, error) {
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "zoe.deployment="+deployment),
		filters.Arg("label", "zoe.execution="+strconv.FormatInt(execution, 10)),
	)})
	if err != nil {
		return "", fmt.Errorf("list containers: %w", err)
	}
	for _, c := range list {
		if c.NetworkSettings == nil {
			continue
		}
		for _, n := range c.NetworkSettings.Networks {
			if n != nil && n.IPAddress != "" {
				return n.IPAddress, nil
			}
		}
	}
	return "", fmt.Errorf("no address for the container of execution %d", execution)
}

// removeNetworks removes the networks of deployment on host.
func removeNetworks(ctx context.Context, host, deployment string) error {
	cli, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	list, err := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "zoe.deployment="+deployment))})
	if err != nil {
		return fmt.Errorf("list the networks of %s: %w", deployment, err)
	}
	var errs []error
	for _, n := range list {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// proxyBench compares the echo service through /proxy/… with the same
// service reached directly at the address the proxy dials, for each
// proxy-target: HTTP at full concurrency and on one connection, and
// WebSocket round trips (published port).
func proxyBench(ctx context.Context, w io.Writer, o options, sides ...proxySide) error {
	type row struct {
		name  string
		n     int
		r     load.Result
		cpu   time.Duration // zoe serve's CPU per request, through the proxy only
		added string        // p50 over the direct row of the same kind
	}
	var rows []row
	ratios := map[string]string{}
	for _, n := range []int{o.concurrency, 1} {
		for _, s := range sides {
			through := s.z.base + s.svc.proxyPath
			session := http.Header{"Cookie": {s.cookie}}
			if err := load.Get(ctx, s.z.http, through, session, http.StatusOK); err != nil {
				return fmt.Errorf("through the proxy (%s): %w", s.target, err)
			}
			direct := getLoad(ctx, n, o.duration, s.direct, nil)
			// zoe serve's own CPU per proxied request is the figure that
			// other work on a shared machine disturbs least.
			before := s.z.memory().cpu
			proxied := getLoad(ctx, n, o.duration, through, session)
			var per time.Duration
			if proxied.Ops > 0 {
				per = (s.z.memory().cpu - before) / time.Duration(proxied.Ops)
			}
			added := load.Ms(proxied.Latency.P50 - direct.Latency.P50)
			key := fmt.Sprintf("%s %d", s.target, n)
			ratios[key] = load.Ratio(proxied.PerSecond(), direct.PerSecond())
			ratios[key+" added"] = added
			for _, r := range []row{
				{"direct, " + s.target + " address", n, direct, 0, ""},
				{"through Zoe, proxy-target = " + s.target, n, proxied, per, added},
			} {
				if r.r.Errors > 0 {
					return fmt.Errorf("%s, %d connections: %d errors, first: %v", r.name, r.n, r.r.Errors, r.r.FirstErr)
				}
				rows = append(rows, r)
			}
		}
	}
	fmt.Fprintf(w, "#### Service proxy, HTTP (GET of a 1 KiB page from bench/echo in a container limited to 2 cores, keep-alive, %s per row)\n\n", o.duration)
	fmt.Fprintf(w, "Each row through Zoe is set against the direct row above it: the same service at the address the proxy dials, so that the two differ by exactly one hop.\n\n")
	fmt.Fprintf(w, "| path | connections | requests/s | p50 ms | p99 ms | throughput / direct | p50 added ms | zoe serve CPU per request |\n|---|---|---|---|---|---|---|---|\n")
	for i, r := range rows {
		direct := rows[i-i%2].r
		cpu := ""
		if r.cpu > 0 {
			cpu = fmt.Sprintf("%.0f µs", float64(r.cpu)/float64(time.Microsecond))
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s | %s |\n", r.name, r.n, r.r.PerSecond(), load.Ms(r.r.Latency.P50), load.Ms(r.r.Latency.P99), load.Ratio(r.r.PerSecond(), direct.PerSecond()), r.added, cpu)
	}
	fmt.Fprintln(w)
	for _, s := range sides {
		fmt.Fprintf(w, "proxy-target = %s: at %d connections the proxy gives %s of the direct throughput (goal ≥ 0.40×); on one connection it adds %s ms at p50 (goal < 0.5 ms).\n",
			s.target, o.concurrency, ratios[fmt.Sprintf("%s %d", s.target, o.concurrency)], ratios[s.target+" 1 added"])
	}
	fmt.Fprintln(w)

	s := sides[0]
	through := s.z.base + s.svc.proxyPath
	origin := http.Header{"Cookie": {s.cookie}, "Origin": {s.z.base}}
	type wsRow struct {
		name string
		n    int
		r    load.Result
	}
	var ws []wsRow
	for _, n := range []int{1, o.concurrency} {
		d, err := wsLoad(ctx, n, o.duration, s.direct, nil)
		if err != nil {
			return fmt.Errorf("WebSocket direct: %w", err)
		}
		p, err := wsLoad(ctx, n, o.duration, through, origin)
		if err != nil {
			return fmt.Errorf("WebSocket through the proxy: %w", err)
		}
		ws = append(ws, wsRow{"direct, " + s.target + " address", n, d}, wsRow{"through Zoe, proxy-target = " + s.target, n, p})
	}
	fmt.Fprintf(w, "#### Service proxy, WebSocket (32-byte text frame echoed, one round trip at a time per connection)\n\n")
	fmt.Fprintf(w, "| path | connections | round trips/s | p50 ms | p99 ms | throughput / direct |\n|---|---|---|---|---|---|\n")
	for i, r := range ws {
		direct := ws[i-i%2].r
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s |\n", r.name, r.n, r.r.PerSecond(), load.Ms(r.r.Latency.P50), load.Ms(r.r.Latency.P99), load.Ratio(r.r.PerSecond(), direct.PerSecond()))
	}
	fmt.Fprintf(w, "\nOne connection: the proxy adds %s ms per round trip at p50.\n\n", load.Ms(ws[1].r.Latency.P50-ws[0].r.Latency.P50))
	return nil
}

// wsLoad opens n WebSockets to target and echoes frames on each for d.
func wsLoad(ctx context.Context, n int, d time.Duration, target string, header http.Header) (load.Result, error) {
	conns := make([]*load.WS, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := load.DialWS(target, header)
		if err != nil {
			return load.Result{}, err
		}
		conns[i] = c
	}
	msg := []byte("0123456789abcdef0123456789abcdef")
	r := load.Run(ctx, load.Config{Workers: n, Duration: d, Warmup: 20}, func(_ context.Context, w int) error {
		return conns[w].RoundTrip(msg)
	})
	if r.Errors > 0 {
		return r, fmt.Errorf("%d errors, first: %w", r.Errors, r.FirstErr)
	}
	return r, nil
}
