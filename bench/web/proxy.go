package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/zoe-analytics/zoe/bench/load"
)

// proxyBench compares the echo service through /proxy/… with the same
// service at its published port: HTTP at full concurrency and on one
// connection, and WebSocket round trips.
func proxyBench(ctx context.Context, w io.Writer, o options, z *zoeProc, cookie string, svc echoService) error {
	through := z.base + svc.proxyPath
	session := http.Header{"Cookie": {cookie}}
	if err := load.Get(ctx, z.http, through, session, http.StatusOK); err != nil {
		return fmt.Errorf("through the proxy: %w", err)
	}
	type row struct {
		name string
		n    int
		r    load.Result
		cpu  time.Duration // zoe serve's CPU per request, through the proxy only
	}
	var rows []row
	for _, n := range []int{o.concurrency, 1} {
		direct := getLoad(ctx, n, o.duration, svc.direct, nil)
		// zoe serve's own CPU per proxied request is the figure that other
		// work on a shared machine disturbs least.
		before := z.memory().cpu
		proxied := getLoad(ctx, n, o.duration, through, session)
		var per time.Duration
		if proxied.Ops > 0 {
			per = (z.memory().cpu - before) / time.Duration(proxied.Ops)
		}
		rows = append(rows, row{"direct (published port)", n, direct, 0}, row{"through /proxy/…", n, proxied, per})
	}
	for _, r := range rows {
		if r.r.Errors > 0 {
			return fmt.Errorf("%s, %d connections: %d errors, first: %v", r.name, r.n, r.r.Errors, r.r.FirstErr)
		}
	}
	fmt.Fprintf(w, "#### Service proxy, HTTP (GET of a 1 KiB page from bench/echo in a container limited to 2 cores, keep-alive, %s per row)\n\n", o.duration)
	fmt.Fprintf(w, "| path | connections | requests/s | p50 ms | p99 ms | throughput / direct | zoe serve CPU per request |\n|---|---|---|---|---|---|---|\n")
	for i, r := range rows {
		direct := rows[i-i%2].r
		cpu := ""
		if r.cpu > 0 {
			cpu = fmt.Sprintf("%.0f µs", float64(r.cpu)/float64(time.Microsecond))
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s |\n", r.name, r.n, r.r.PerSecond(), load.Ms(r.r.Latency.P50), load.Ms(r.r.Latency.P99), load.Ratio(r.r.PerSecond(), direct.PerSecond()), cpu)
	}
	added := rows[3].r.Latency.P50 - rows[2].r.Latency.P50
	fmt.Fprintf(w, "\nAt %d connections the proxy gives %s of the direct throughput (goal ≥ 0.40×); on one connection it adds %s ms at p50 (goal < 0.5 ms).\n\n",
		o.concurrency, load.Ratio(rows[1].r.PerSecond(), rows[0].r.PerSecond()), load.Ms(added))

	origin := http.Header{"Cookie": {cookie}, "Origin": {z.base}}
	type wsRow struct {
		name string
		n    int
		r    load.Result
	}
	var ws []wsRow
	for _, n := range []int{1, o.concurrency} {
		d, err := wsLoad(ctx, n, o.duration, svc.direct, nil)
		if err != nil {
			return fmt.Errorf("WebSocket direct: %w", err)
		}
		p, err := wsLoad(ctx, n, o.duration, through, origin)
		if err != nil {
			return fmt.Errorf("WebSocket through the proxy: %w", err)
		}
		ws = append(ws, wsRow{"direct", n, d}, wsRow{"through /proxy/…", n, p})
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
