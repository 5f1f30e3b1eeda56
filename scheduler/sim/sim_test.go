package sim

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zoe-analytics/zoe/scheduler"
)

// zappJSON is a ZApp v3 with one service per (name, essential, total, GiB).
func zappJSON(services ...string) string {
	return `{"name": "test", "version": 3, "will_end": true, "size": 1, "services": [` + strings.Join(services, ",") + `]}`
}

func svc(name string, essential, total int, gib float64) string {
	mem := int64(gib * (1 << 30))
	return fmt.Sprintf(`{"name": %q, "image": "zoe/busybox:test", "monitor": true, "essential_count": %d, "total_count": %d,
		"startup_order": 0, "command": null, "environment": [], "ports": [], "volumes": [],
		"resources": {"memory": {"min": %d, "max": %d}, "cores": {"min": 1, "max": 1}}}`, name, essential, total, mem, mem)
}

func traceLineJSON(id string, arrival, duration float64, desc string) string {
	return fmt.Sprintf(`{"id": %q, "arrival": %v, "duration": %v, "description": %s}`, id, arrival, duration, strings.ReplaceAll(desc, "\n", " "))
}

func mustRun(t *testing.T, cfg scheduler.Config, hosts string, lines ...string) Result {
	t.Helper()
	hs, err := ReadHosts(strings.NewReader(hosts))
	if err != nil {
		t.Fatalf("ReadHosts: %v", err)
	}
	jobs, err := ReadTrace(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("ReadTrace: %v", err)
	}
	res, err := Run(cfg, hs, jobs)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestRunRigid(t *testing.T) {
	// One 8 GiB host. j1 (6 GiB, 100 s) runs 0-100; j2 (4 GiB, 50 s)
	// arrives at 10, waits until 100, runs 100-150.
	res := mustRun(t, scheduler.Config{}, `[{"name": "h1", "cores": 4, "memory": "8GiB"}]`,
		traceLineJSON("j1", 0, 100, zappJSON(svc("aaa", 1, 1, 6))),
		traceLineJSON("j2", 10, 50, zappJSON(svc("bbb", 1, 1, 4))),
	)
	want := Result{
		Jobs: []JobResult{
			{ID: "j1", QueueTime: 0, Turnaround: 100, Slowdown: 1},
			{ID: "j2", QueueTime: 90, Turnaround: 140, Slowdown: 2.8},
		},
		// Turnarounds 100 and 140; p95 is the nearest rank, the 2nd of 2.
		// Memory: 6 GiB × 100 s + 4 GiB × 50 s = 800 GiB·s over 8 GiB ×
		// 150 s = 1200.
		Summary: Summary{MeanTurnaround: 120, MedianTurnaround: 120, P95Turnaround: 140, MeanQueueTime: 45,
			MeanSlowdown: 1.9, Makespan: 150, Utilisation: 0.667},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestRunElastic(t *testing.T) {
	tests := []struct {
		name  string
		hosts string
		lines []string
		want  []JobResult
	}{{
		// Work 2 instances × 100 s, both running: 100 s.
		name:  "all instances run: the duration",
		hosts: `[{"name": "h1", "cores": 4, "memory": "8GiB"}]`,
		lines: []string{traceLineJSON("j1", 0, 100, zappJSON(svc("www", 1, 2, 2)))},
		want:  []JobResult{{ID: "j1", Turnaround: 100, Slowdown: 1}},
	}, {
		// Only the essential instance fits: 200 instance-seconds at 1.
		name:  "essential instances only: proportionally longer",
		hosts: `[{"name": "h1", "cores": 4, "memory": "2GiB"}]`,
		lines: []string{traceLineJSON("j1", 0, 100, zappJSON(svc("www", 1, 2, 2)))},
		want:  []JobResult{{ID: "j1", Turnaround: 200, Slowdown: 2}},
	}, {
		// j1 runs 2 instances on the 4 GiB host; at 50 s it has done 100 of
		// 200 instance-seconds. j2 arrives and its essential instance
		// takes the elastic one's place until 60 (j1 at rate 1: 90 left).
		// Then both run again: 45 s more, j1 ends at 105.
		name:  "elastic instances give way and come back",
		hosts: `[{"name": "h1", "cores": 4, "memory": "4GiB"}]`,
		lines: []string{
			traceLineJSON("j1", 0, 100, zappJSON(svc("www", 1, 2, 2))),
			traceLineJSON("j2", 50, 10, zappJSON(svc("bbb", 1, 1, 2))),
		},
		want: []JobResult{{ID: "j1", Turnaround: 105, Slowdown: 1.05}, {ID: "j2", Turnaround: 10, Slowdown: 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRun(t, scheduler.Config{}, tt.hosts, tt.lines...)
			if diff := cmp.Diff(tt.want, res.Jobs); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunStuck(t *testing.T) {
	hs, err := ReadHosts(strings.NewReader(`[{"name": "h1", "cores": 4, "memory": "8GiB"}]`))
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := ReadTrace(strings.NewReader(traceLineJSON("j1", 0, 10, zappJSON(svc("aaa", 1, 1, 1))) + "\n" +
		traceLineJSON("big", 5, 10, zappJSON(svc("aaa", 1, 1, 16)))))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(scheduler.Config{}, hs, jobs)
	want := `trace cannot finish: 1 waiting requests can never start on these hosts: line 2 (id "big"): cannot start even on empty hosts: aaa0 needs 16 GiB memory, the largest online host has 8 GiB`
	if !errors.Is(err, ErrStuck) || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestReadHosts(t *testing.T) {
	hs, err := ReadHosts(strings.NewReader(`[
  {"name": "h1", "cores": 16, "memory": "64GiB", "labels": ["ssd"]},
  {"name": "h2", "cores": 0.5, "memory": 1073741824}
]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []scheduler.Host{
		{Name: "h1", Memory: 64 << 30, MilliCores: 16000, Labels: []string{"ssd"}},
		{Name: "h2", Memory: 1 << 30, MilliCores: 500},
	}
	if diff := cmp.Diff(want, hs); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	bad := []struct{ in, want string }{
		{`{"name": "h1"}`, "bad input: line 1: want a JSON array of hosts"},
		{"[\n{\"name\": \"h1\", \"cores\": 1, \"memory\": \"lots\"}]", `bad input: line 2: hosts[0].memory: invalid size "lots"`},
		{"[\n{\"name\": \"h1\", \"cores\": 1}]", `bad input: line 2: hosts[0].memory: missing`},
		{"[{\"name\": \"h1\", \"cores\": 1, \"memory\": 1},\n {\"name\": \"h1\", \"cores\": 1, \"memory\": 1}]", `bad input: line 2: hosts[1].name: "h1" already used on line 1`},
		{`[{"name": "h1", "cores": 0, "memory": 1}]`, `bad input: line 1: hosts[0].cores: must be positive`},
		{`[{"name": "h1", "cores": 1, "memory": 1, "gpu": true}]`, `bad input: line 1: hosts[0].gpu: unknown field`},
		{`[{"name": 7, "cores": 1, "memory": 1}]`, `bad input: line 1: hosts[0].name: want a string, got number`},
		{`[]`, `bad input: no hosts`},
	}
	for _, tc := range bad {
		_, err := ReadHosts(strings.NewReader(tc.in))
		if err == nil || !errors.Is(err, ErrInput) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ReadHosts(%s): got %v, want an error starting %q", tc.in, err, tc.want)
		}
	}
}

func TestReadTrace(t *testing.T) {
	good := traceLineJSON("j1", 0, 10, zappJSON(svc("aaa", 1, 1, 1)))
	bad := []struct {
		name, in, want string
	}{
		{"invalid JSON", good + "\n{\"id\": ", `bad input: line 2: `},
		{"missing id", `{"arrival": 0, "duration": 1, "description": {}}`, `bad input: line 1: field "id": missing or empty`},
		{"duplicate id", good + "\n\n" + good, `bad input: line 3: field "id": "j1" already used on line 1`},
		{"negative arrival", strings.Replace(good, `"arrival": 0`, `"arrival": -5`, 1), `bad input: line 1: field "arrival": must be a number of seconds, zero or more, got -5`},
		{"arrival as string", strings.Replace(good, `"arrival": 0`, `"arrival": "0"`, 1), `bad input: line 1: field "arrival": want a float64, got string`},
		{"zero duration", strings.Replace(good, `"duration": 10`, `"duration": 0`, 1), `bad input: line 1: field "duration": must be a positive number of seconds, got 0`},
		{"missing description", `{"id": "x", "arrival": 0, "duration": 1}`, `bad input: line 1: field "description": missing`},
		{"unknown field", strings.Replace(good, `"arrival"`, `"priority": 1, "arrival"`, 1), `bad input: line 1: field "priority": unknown field`},
		{"bad ZApp", strings.Replace(good, `"total_count": 1`, `"total_count": 0`, 1), `bad input: line 1: field "description": services[0].total_count: must be at least essential_count (1), got 0`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tc.in))
			if err == nil || !errors.Is(err, ErrInput) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	var a, b bytes.Buffer
	if err := Generate(&a, GenOptions{N: 200, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if err := Generate(&b, GenOptions{N: 200, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatal("same seed, different traces")
	}
	jobs, err := ReadTrace(&a)
	if err != nil {
		t.Fatalf("a generated trace does not read back: %v", err)
	}
	if len(jobs) != 200 {
		t.Fatalf("got %d jobs, want 200", len(jobs))
	}
	var elastic, rigid int
	for _, j := range jobs {
		e := false
		for _, in := range j.Instances {
			e = e || !in.Essential
		}
		if e {
			elastic++
		} else {
			rigid++
		}
	}
	if elastic < 50 || rigid < 50 {
		t.Errorf("got %d elastic and %d rigid jobs, want a mix", elastic, rigid)
	}
	var hosts []scheduler.Host
	for _, h := range GenerateHosts(8) {
		hosts = append(hosts, scheduler.Host{Name: h.Name, Memory: int64(h.Memory), MilliCores: int64(h.Cores)})
	}
	// Every configuration finishes the trace with sane numbers.
	for _, policy := range []scheduler.Policy{scheduler.FIFO, scheduler.Size, scheduler.DynSize} {
		for _, backfill := range []bool{false, true} {
			res, err := Run(scheduler.Config{Policy: policy, Backfill: backfill, PullImages: true}, hosts, jobs)
			if err != nil {
				t.Fatalf("%s backfill=%v: %v", policy, backfill, err)
			}
			for _, j := range res.Jobs {
				if j.QueueTime < 0 || j.Turnaround < j.QueueTime || j.Slowdown < 0.999 {
					t.Fatalf("%s backfill=%v: bad job result %+v", policy, backfill, j)
				}
			}
			if s := res.Summary; s.Utilisation <= 0 || s.Utilisation > 1 || s.P95Turnaround < s.MedianTurnaround {
				t.Errorf("%s backfill=%v: bad summary %+v", policy, backfill, s)
			}
		}
	}
}
