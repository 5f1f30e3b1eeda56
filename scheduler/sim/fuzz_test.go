package sim

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/scheduler"
)

// inputError is the shape every refusal of a trace or hosts file takes:
// ErrInput and the line it is about, so that a person can find it.
var inputError = regexp.MustCompile(`^bad input: (line \d+: |no hosts$)`)

// FuzzReadTrace checks that ReadTrace never panics, that what it refuses
// is ErrInput naming a line, and that what it accepts is a trace the
// simulator can use: unique non-empty IDs, finite times, instances with
// resources that are not negative.
func FuzzReadTrace(f *testing.F) {
	good := traceLineJSON("j1", 0, 10, zappJSON(svc("aaa", 1, 1, 1)))
	var gen bytes.Buffer
	if err := Generate(&gen, GenOptions{N: 3, Seed: 1}); err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		good,
		gen.String(),
		good + "\n\n" + traceLineJSON("j2", 1.5, 1e-3, zappJSON(svc("www", 1, 3, 0.5), svc("db", 1, 1, 2))),
		good + "\n" + good,
		"\n\n   \n",
		`{"id": "x", "arrival": 1e308, "duration": 1e308, "description": {}}`,
		`{"id": "x", "arrival": -0, "duration": 5e-324, "description": null}`,
		`{"id": "", "arrival": 0, "duration": 1, "description": []}`,
		`{"id": "x", "arrival": 0, "duration": 1, "description": {"services": [{"resources": {"memory": {"min": "-1GiB"}}}]}}`,
		strings.Replace(good, `"total_count": 1`, `"total_count": 1e30`, 1),
		strings.Replace(good, `"size": 1`, `"size": NaN`, 1),
		`{"id": "x"} trailing`,
		`[1, 2, 3]`,
		"{\"id\": \"\u2028\", \"arrival\": 0, \"duration\": 1}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := ReadTrace(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInput) || !inputError.MatchString(err.Error()) {
				t.Fatalf("got error %q, want ErrInput naming a line", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, j := range jobs {
			switch {
			case j.ID == "" || seen[j.ID]:
				t.Fatalf("line %d: got ID %q, want a new non-empty ID", j.Line, j.ID)
			case j.Arrival < 0 || math.IsInf(j.Arrival, 0) || math.IsNaN(j.Arrival):
				t.Fatalf("line %d: got arrival %v, want finite and not negative", j.Line, j.Arrival)
			case j.Duration <= 0 || math.IsInf(j.Duration, 0) || math.IsNaN(j.Duration):
				t.Fatalf("line %d: got duration %v, want finite and positive", j.Line, j.Duration)
			case len(j.Instances) == 0:
				t.Fatalf("line %d: got no instances", j.Line)
			}
			seen[j.ID] = true
			for _, in := range j.Instances {
				if in.Memory < 0 || in.MilliCores < 0 {
					t.Fatalf("line %d: instance %s: got memory %d, millicores %d, want neither negative", j.Line, in.Name, in.Memory, in.MilliCores)
				}
			}
		}
		// Small accepted traces also replay; a big one could only be slow.
		if len(jobs) > 4 {
			return
		}
		n := 0
		for _, j := range jobs {
			n += len(j.Instances)
		}
		if n > 32 {
			return
		}
		hosts := []scheduler.Host{{Name: "h1", Memory: 64 << 30, MilliCores: 16000}}
		if _, err := Run(scheduler.Config{}, hosts, jobs); err != nil && !errors.Is(err, ErrStuck) {
			t.Fatalf("Run: got %v, want nil or ErrStuck", err)
		}
	})
}

// FuzzReadHosts checks that ReadHosts never panics, refuses with ErrInput
// naming a line, and accepts only hosts with a unique name and positive
// resources.
func FuzzReadHosts(f *testing.F) {
	for _, seed := range []string{
		`[{"name": "h1", "cores": 4, "memory": "8GiB"}]`,
		`[{"name": "h1", "cores": 4, "memory": "8GiB", "labels": ["gpu"]}, {"name": "h2", "cores": 0.5, "memory": 1073741824}]`,
		`[{"name": "h1", "cores": -1, "memory": "8GiB"}]`,
		`[{"name": "h1", "cores": 1e30, "memory": "1e30GiB"}]`,
		`[{"name": "h1", "cores": 4, "memory": "8GiB"}, {"name": "h1", "cores": 4, "memory": "8GiB"}]`,
		`[]`,
		`{}`,
		`[{"name": "h1", "cores": 4, "memory": "8GiB"}] [`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hosts, err := ReadHosts(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInput) || !inputError.MatchString(err.Error()) {
				t.Fatalf("got error %q, want ErrInput naming a line", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, h := range hosts {
			if h.Name == "" || seen[h.Name] || h.Memory <= 0 || h.MilliCores <= 0 {
				t.Fatalf("accepted host %+v, want a new name and positive resources", h)
			}
			seen[h.Name] = true
		}
	})
}

// TestRunFarFuture replays traces whose times are too large for the
// clock to resolve a job's run time; FuzzReadTrace found that Run looped
// for ever on them.
func TestRunFarFuture(t *testing.T) {
	tests := []struct {
		name              string
		arrival, duration float64
	}{
		{"arrival 1e17, duration 1", 1e17, 1},
		{"arrival 1e300, duration 1e-300", 1e300, 1e-300},
		{"arrival 0, duration 1e300", 0, 1e300},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trace := traceLineJSON("j1", tc.arrival, tc.duration, zappJSON(svc("aaa", 1, 1, 1))) + "\n" +
				traceLineJSON("j2", tc.arrival, tc.duration, zappJSON(svc("bbb", 1, 3, 1)))
			jobs, err := ReadTrace(strings.NewReader(trace))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Run(scheduler.Config{}, []scheduler.Host{{Name: "h1", Memory: 64 << 30, MilliCores: 16000}}, jobs)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: got %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run: still running after 10 s, want it to finish")
			}
		})
	}
}
