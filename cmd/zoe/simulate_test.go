package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const simZapp = `{"name": "sim", "version": 3, "will_end": true, "size": 1, "services": [{"name": "job", "image": "zoe/busybox:test", "monitor": true, "essential_count": 1, "total_count": 1, "startup_order": 0, "command": null, "environment": [], "ports": [], "volumes": [], "resources": {"memory": {"min": 4294967296, "max": 4294967296}, "cores": {"min": 1, "max": 1}}}]}`

func writeSimFiles(t *testing.T, hosts, trace string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	h, tr := filepath.Join(dir, "hosts.json"), filepath.Join(dir, "trace.jsonl")
	if err := os.WriteFile(h, []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tr, []byte(trace), 0o644); err != nil {
		t.Fatal(err)
	}
	return h, tr
}

func TestSimulate(t *testing.T) {
	// One 6 GiB host, two 4 GiB jobs of 100 s: the second waits for the
	// first.
	hosts, trace := writeSimFiles(t, `[{"name": "h1", "cores": 4, "memory": "6GiB"}]`,
		`{"id": "a", "arrival": 0, "duration": 100, "description": `+simZapp+"}\n"+
			`{"id": "b", "arrival": 0, "duration": 100, "description": `+simZapp+"}\n")
	var stdout, stderr bytes.Buffer
	if code := runSimulate([]string{"--hosts", hosts, "--trace", trace, "--policy", "SIZE", "--placement", "waterfill", "--backfill"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	var got struct {
		Jobs []struct {
			ID string `json:"id"`
		} `json:"jobs"`
		Summary map[string]float64 `json:"summary"`
	}
	out := stdout.String()
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(got.Jobs) != 2 || got.Jobs[0].ID != "a" || got.Jobs[1].ID != "b" {
		t.Fatalf("got jobs %+v, want a and b", got.Jobs)
	}
	want := map[string]float64{
		"mean_turnaround": 150, "median_turnaround": 150, "p95_turnaround": 200,
		"mean_queue_time": 50, "mean_slowdown": 1.5, "makespan": 200, "utilisation": 0.667,
	}
	for k, v := range want {
		if got.Summary[k] != v {
			t.Errorf("summary %s: got %v, want %v", k, got.Summary[k], v)
		}
	}
	if len(got.Summary) != len(want) {
		t.Errorf("got summary keys %v, want %d keys", got.Summary, len(want))
	}
	if !strings.Contains(out, `"queue_time": 100`) {
		t.Errorf("output lacks b's queue_time of 100:\n%s", out)
	}
}

func TestSimulateBadInput(t *testing.T) {
	goodHosts := `[{"name": "h1", "cores": 4, "memory": "6GiB"}]`
	goodLine := `{"id": "a", "arrival": 0, "duration": 100, "description": ` + simZapp + "}\n"
	tests := []struct {
		name, hosts, trace string
		args               []string
		want               string
	}{
		{"bad duration", goodHosts, goodLine + strings.NewReplacer(`"duration": 100`, `"duration": -1`, `"id": "a"`, `"id": "b"`).Replace(goodLine), nil,
			`trace.jsonl: bad input: line 2: field "duration": must be a positive number of seconds, got -1`},
		{"bad host memory", `[{"name": "h1", "cores": 4, "memory": "6 parsecs"}]`, goodLine, nil,
			`hosts.json: bad input: line 1: hosts[0].memory: invalid size "6 parsecs"`},
		{"bad policy", goodHosts, goodLine, []string{"--policy", "LIFO"}, `policy "LIFO"`},
		{"job larger than every host", goodHosts, strings.Replace(goodLine, "4294967296", "17179869184", 2), nil,
			`line 1 (id "a"): cannot start even on empty hosts: job0 needs 16 GiB memory, the largest online host has 6 GiB`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts, trace := writeSimFiles(t, tt.hosts, tt.trace)
			var stdout, stderr bytes.Buffer
			code := runSimulate(append([]string{"--hosts", hosts, "--trace", trace}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("got exit %d, stderr %q; want 2 and a message containing %q", code, stderr.String(), tt.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := runSimulate([]string{"--trace", "x"}, &stdout, &stderr); code != 2 {
		t.Errorf("without --hosts: got exit %d, want 2", code)
	}
}

func TestSimulateGen(t *testing.T) {
	dir := t.TempDir()
	trace, hosts := filepath.Join(dir, "t.jsonl"), filepath.Join(dir, "h.json")
	var stdout, stderr bytes.Buffer
	if code := runSimulate([]string{"gen", "--n", "40", "--seed", "2", "--out", trace, "--hosts", "3", "--hosts-out", hosts}, &stdout, &stderr); code != 0 {
		t.Fatalf("gen: exit %d, stderr %s", code, stderr.String())
	}
	stdout.Reset()
	if code := runSimulate([]string{"--hosts", hosts, "--trace", trace, "--policy", "DYNSIZE"}, &stdout, &stderr); code != 0 {
		t.Fatalf("replay: exit %d, stderr %s", code, stderr.String())
	}
	var res struct{ Jobs []json.RawMessage }
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Jobs) != 40 {
		t.Fatalf("got %d jobs (%v), want 40", len(res.Jobs), err)
	}
}
