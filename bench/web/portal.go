package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/zoe-analytics/zoe/bench/load"
)

// portalBench loads the shop page, the execution list and the status
// fragment HTMX polls, signed in as the admin (who sees every execution).
func portalBench(ctx context.Context, w io.Writer, o options, z *zoeProc, cookie string, svc echoService, bare load.Result) error {
	session := http.Header{"Cookie": {cookie}}
	htmx := http.Header{"Cookie": {cookie}, "HX-Request": {"true"}}
	pages := []struct {
		name, path string
		header     http.Header
	}{
		{"shop page (GET /shop)", "/shop", session},
		{fmt.Sprintf("execution list, %d executions in the store (GET /executions)", o.executions+1), "/executions", session},
		{"execution status fragment (GET /executions/{id}/status, HX-Request)", fmt.Sprintf("/executions/%d/status", svc.execution), htmx},
	}
	fmt.Fprintf(w, "#### Portal (%d keep-alive connections, %s per row, signed in as admin)\n\n", o.concurrency, o.duration)
	fmt.Fprintf(w, "| page | requests/s | p50 ms | p99 ms | / bare net/http | zoe serve CPU per request |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| bare net/http (bench/echo on the host, 1 KiB) — the ceiling | %.0f | %s | %s | 1.00× | |\n", bare.PerSecond(), load.Ms(bare.Latency.P50), load.Ms(bare.Latency.P99))
	var fragment load.Result
	var fragmentCPU time.Duration
	for i, p := range pages {
		if err := load.Get(ctx, z.http, z.base+p.path, p.header, http.StatusOK); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		before := z.memory().cpu
		r := getLoad(ctx, o.concurrency, o.duration, z.base+p.path, p.header)
		cpu := z.memory().cpu - before
		if r.Errors > 0 {
			return fmt.Errorf("%s: %d errors, first: %v", p.name, r.Errors, r.FirstErr)
		}
		per := time.Duration(0)
		if r.Ops > 0 {
			per = cpu / time.Duration(r.Ops)
		}
		if i == len(pages)-1 {
			fragment, fragmentCPU = r, per
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s µs |\n", p.name, r.PerSecond(), load.Ms(r.Latency.P50), load.Ms(r.Latency.P99), load.Ratio(r.PerSecond(), bare.PerSecond()), fmt.Sprintf("%.0f", float64(per)/float64(time.Microsecond)))
	}
	fmt.Fprintf(w, "\nCPU per request is the zoe serve process's only: with PostgreSQL, the database server's work is not in it.\n")
	fmt.Fprintf(w, "Status fragment: %.0f requests/s (goal ≥ 5,000 on 2 cores, the load generator included). At %.0f µs of zoe serve CPU each, 1,000 pages polling every 2 s (500 requests/s) cost %.2f cores (goal < 0.5).\n\n",
		fragment.PerSecond(), float64(fragmentCPU)/float64(time.Microsecond), 500*fragmentCPU.Seconds())
	return nil
}
