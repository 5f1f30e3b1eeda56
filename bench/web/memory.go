package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/bench/load"
)

// memoryBench reports zoe serve's resident memory idle and while n
// clients, each on a connection of its own, poll the status fragment every
// two seconds as open execution pages do.
func memoryBench(ctx context.Context, w io.Writer, o options, z *zoeProc, cookie string, svc echoService, idleEmpty, idleSeeded memory) error {
	htmx := http.Header{"Cookie": {cookie}, "HX-Request": {"true"}}
	target := fmt.Sprintf("%s/executions/%d/status", z.base, svc.execution)
	const every = 2 * time.Second
	polls := 10
	cs := load.Clients(o.pollers)
	before := z.memory()
	t0 := time.Now()
	end := t0.Add(time.Duration(polls+1) * every)
	lat := make([][]time.Duration, o.pollers)
	errs := make([]error, o.pollers)
	var wg sync.WaitGroup
	for i := range o.pollers {
		wg.Go(func() {
			// Spread the clients over the period, as pages opened at
			// different times are.
			next := t0.Add(time.Duration(i) * every / time.Duration(o.pollers))
			for next.Before(end) {
				time.Sleep(time.Until(next))
				start := time.Now()
				if err := load.Get(ctx, cs[i], target, htmx, http.StatusOK); err != nil && errs[i] == nil {
					errs[i] = err
				}
				lat[i] = append(lat[i], time.Since(start))
				next = next.Add(every)
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := load.Result{Ops: len(all), Latency: load.Summarise(all)}
	for _, err := range errs {
		if err != nil {
			r.Errors++
			r.FirstErr = cmp.Or(r.FirstErr, err)
		}
	}
	during := z.memory()
	elapsed := time.Since(t0)
	fmt.Fprintf(w, "#### Memory of zoe serve (resident set, from /proc)\n\n| state | RSS | peak RSS so far |\n|---|---|---|\n")
	if idleEmpty.rss > 0 {
		fmt.Fprintf(w, "| idle, first start on an empty store | %s | %s |\n", mib(idleEmpty.rss), mib(idleEmpty.peak))
	}
	fmt.Fprintf(w, "| idle, %d executions in the store, one running | %s | %s |\n", o.executions+1, mib(idleSeeded.rss), mib(idleSeeded.peak))
	fmt.Fprintf(w, "| after the load above, before the pollers | %s | %s |\n", mib(before.rss), mib(before.peak))
	fmt.Fprintf(w, "| %d clients polling the status fragment every 2 s (%.0f s) | %s | %s |\n", o.pollers, elapsed.Seconds(), mib(during.rss), mib(during.peak))
	cpu := during.cpu - before.cpu
	fmt.Fprintf(w, "\nPollers: %d polls, %d errors, p50 %s ms, p99 %s ms; zoe serve used %.3f cores meanwhile (%.0f polls/s). Goal idle < 60 MB: %s.\n\n",
		r.Ops, r.Errors, load.Ms(r.Latency.P50), load.Ms(r.Latency.P99), cpu.Seconds()/elapsed.Seconds(), float64(r.Ops)/elapsed.Seconds(), verdict(idleEmpty, idleSeeded))
	if r.Errors > 0 {
		return fmt.Errorf("pollers: %d errors, first: %v", r.Errors, r.FirstErr)
	}
	return nil
}

func verdict(ms ...memory) string {
	worst := int64(0)
	for _, m := range ms {
		worst = max(worst, m.rss)
	}
	if worst < 60e6 {
		return fmt.Sprintf("met (largest idle RSS %.1f MB)", float64(worst)/1e6)
	}
	return fmt.Sprintf("missed (largest idle RSS %.1f MB)", float64(worst)/1e6)
}
