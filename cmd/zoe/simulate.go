package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/scheduler/sim"
)

// runSimulate replays a trace through the scheduler in virtual time, or with
// "gen" writes a synthetic trace. See docs/scheduler.md.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "gen" {
		return runSimulateGen(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("zoe simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: zoe simulate --hosts HOSTS.json --trace TRACE.jsonl [--policy FIFO|SIZE|DYNSIZE] [--placement average|waterfill|random] [--backfill] [--max-bypass N] [--seed N]")
		fmt.Fprintln(stderr, "       zoe simulate gen [--n N] [--seed S] [--interarrival SECONDS] [--out TRACE.jsonl] [--hosts N --hosts-out HOSTS.json]")
		fs.PrintDefaults()
	}
	hostsPath := fs.String("hosts", "", "hosts file: JSON array of {name, cores, memory, labels}")
	tracePath := fs.String("trace", "", "trace file: one JSON request per line")
	policy := fs.String("policy", string(scheduler.FIFO), "queue policy: FIFO, SIZE or DYNSIZE")
	placement := fs.String("placement", string(scheduler.Average), "placement: average, waterfill or random")
	backfill := fs.Bool("backfill", false, "let later requests start while the head waits")
	maxBypass := fs.Int("max-bypass", scheduler.DefaultMaxBypass, "with --backfill, how often a waiting request may be overtaken")
	seed := fs.Int64("seed", 0, "seed of the random placement")
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	if *hostsPath == "" || *tracePath == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg := scheduler.Config{
		Policy: scheduler.Policy(*policy), Placement: scheduler.Placement(*placement),
		Backfill: *backfill, MaxBypass: *maxBypass, Seed: *seed, PullImages: true,
	}
	if _, err := scheduler.New(cfg); err != nil {
		fmt.Fprintf(stderr, "zoe simulate: %v\n", err)
		return 2
	}
	hosts, err := readFile(*hostsPath, sim.ReadHosts)
	if err != nil {
		fmt.Fprintf(stderr, "zoe simulate: %v\n", err)
		return 2
	}
	jobs, err := readFile(*tracePath, sim.ReadTrace)
	if err != nil {
		fmt.Fprintf(stderr, "zoe simulate: %v\n", err)
		return 2
	}
	res, err := sim.Run(cfg, hosts, jobs)
	if err != nil {
		fmt.Fprintf(stderr, "zoe simulate: %s: %v\n", *tracePath, err)
		if errors.Is(err, sim.ErrStuck) {
			return 2
		}
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintf(stderr, "zoe simulate: %v\n", err)
		return 1
	}
	return 0
}

func runSimulateGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zoe simulate gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 500, "number of jobs")
	seed := fs.Uint64("seed", 1, "seed; the same seed gives the same trace")
	inter := fs.Float64("interarrival", 120, "mean seconds between arrivals")
	out := fs.String("out", "", "write the trace here instead of standard output")
	nHosts := fs.Int("hosts", 10, "with --hosts-out, how many hosts (16 cores, 64 GiB each)")
	hostsOut := fs.String("hosts-out", "", "also write a hosts file here")
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	if fs.NArg() > 0 || *n < 0 || *nHosts < 1 || *inter <= 0 {
		fmt.Fprintln(stderr, "zoe simulate gen: want --n >= 0, --hosts >= 1, --interarrival > 0 and no arguments")
		return 2
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "zoe simulate gen: %v\n", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	if err := sim.Generate(w, sim.GenOptions{N: *n, Seed: *seed, MeanInterarrival: *inter}); err != nil {
		fmt.Fprintf(stderr, "zoe simulate gen: %v\n", err)
		return 1
	}
	if c, ok := w.(io.Closer); ok && *out != "" {
		if err := c.Close(); err != nil {
			fmt.Fprintf(stderr, "zoe simulate gen: %v\n", err)
			return 1
		}
	}
	if *hostsOut != "" {
		data, err := json.MarshalIndent(sim.GenerateHosts(*nHosts), "", "  ")
		if err == nil {
			err = os.WriteFile(*hostsOut, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "zoe simulate gen: %v\n", err)
			return 1
		}
	}
	return 0
}

// readFile opens path and parses it with read.
func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// flagStatus is the exit status after a flag parsing error: 0 for -h.
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
