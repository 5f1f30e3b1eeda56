package lifecycle

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

func TestEffectiveIdle(t *testing.T) {
	tests := []struct {
		name       string
		role, zapp time.Duration
		want       time.Duration
	}{
		{"role only", time.Hour, 0, time.Hour},
		{"zapp shortens", 2 * time.Hour, 30 * time.Minute, 30 * time.Minute},
		{"zapp cannot lengthen", 2 * time.Hour, 5 * time.Hour, 2 * time.Hour},
		{"zapp applies when the role never culls", 0, 30 * time.Minute, 30 * time.Minute},
		{"neither", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EffectiveIdle(tt.role, tt.zapp); got != tt.want {
				t.Errorf("EffectiveIdle(%s, %s) = %s, want %s", tt.role, tt.zapp, got, tt.want)
			}
		})
	}
}

func TestIdleTimeoutsFor(t *testing.T) {
	it := IdleTimeouts{Guest: time.Minute, User: time.Hour, Admin: 0}
	for role, want := range map[string]time.Duration{"guest": time.Minute, "user": time.Hour, "admin": 0, "other": time.Hour} {
		if got := it.For(role); got != want {
			t.Errorf("For(%q) = %s, want %s", role, got, want)
		}
	}
}

func TestStopOf(t *testing.T) {
	start := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	ptr := func(t time.Time) *time.Time { return &t }
	running := func(mod func(*store.Execution)) store.Execution {
		e := store.Execution{Status: store.StatusRunning, SubmittedAt: at(-time.Minute), StartedAt: ptr(start)}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	web := func(last time.Duration) Use { return Use{Last: at(last), Web: true} }
	tests := []struct {
		name          string
		e             store.Execution
		use           Use
		idle, runtime time.Duration
		want          Stop
		wantOK        bool
	}{
		{"nothing stops it", running(nil), web(0), 0, 0, Stop{}, false},
		{"idle from the last request", running(nil), web(20 * time.Minute), 30 * time.Minute, 0,
			Stop{At: at(50 * time.Minute), Reason: StopIdle, Idle: 30 * time.Minute}, true},
		{"idle from the start when nobody came", running(nil), Use{Web: true}, 30 * time.Minute, 0,
			Stop{At: at(30 * time.Minute), Reason: StopIdle, Idle: 30 * time.Minute}, true},
		{"an extension counts as use", running(func(e *store.Execution) { e.LastActiveAt = ptr(at(time.Hour)) }), web(20 * time.Minute), 30 * time.Minute, 0,
			Stop{At: at(90 * time.Minute), Reason: StopIdle, Idle: 30 * time.Minute}, true},
		{"no web endpoint is never idle", running(nil), Use{}, 30 * time.Minute, 0, Stop{Idle: 30 * time.Minute}, false},
		{"an activity URL makes it idle-able", running(func(e *store.Execution) { e.Activity = []byte(`[{}]`) }), Use{}, 30 * time.Minute, 0,
			Stop{At: at(30 * time.Minute), Reason: StopIdle, Idle: 30 * time.Minute}, true},
		{"run-time limit from the start", running(nil), web(0), 0, 2 * time.Hour,
			Stop{At: at(2 * time.Hour), Reason: StopRuntime, Runtime: 2 * time.Hour}, true},
		{"run-time limit first", running(nil), web(90 * time.Minute), time.Hour, 2 * time.Hour,
			Stop{At: at(2 * time.Hour), Reason: StopRuntime, Idle: time.Hour, Runtime: 2 * time.Hour}, true},
		{"idle first", running(nil), web(10 * time.Minute), time.Hour, 2 * time.Hour,
			Stop{At: at(70 * time.Minute), Reason: StopIdle, Idle: time.Hour, Runtime: 2 * time.Hour}, true},
		{"not running", running(func(e *store.Execution) { e.Status = store.StatusQueued }), web(0), time.Hour, time.Hour,
			Stop{Idle: time.Hour, Runtime: time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := StopOf(tt.e, tt.use, Limits{Idle: tt.idle, Runtime: tt.runtime})
			if ok != tt.wantOK {
				t.Errorf("got ok %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stop (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseActivity(t *testing.T) {
	t1 := time.Date(2026, 11, 23, 10, 0, 0, 123456000, time.UTC)
	t2 := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		body    string
		want    report
		wantErr string
	}{
		{"jupyter status", `{"started": "2026-11-23T09:00:00.000000Z", "last_activity": "2026-11-23T10:00:00.123456Z", "connections": 0, "kernels": 1}`,
			report{Last: t1}, ""},
		{"open connections and kernels are not use", `{"last_activity": "2026-11-23T10:00:00.123456Z", "connections": 3, "kernels": 2}`,
			report{Last: t1}, ""},
		{"jupyter kernels, one busy", `[{"id": "a", "execution_state": "idle", "last_activity": "2026-11-23T11:00:00Z"},
			{"id": "b", "execution_state": "busy", "last_activity": "2026-11-23T10:00:00.123456Z"}]`,
			report{Last: t2, Busy: true}, ""},
		{"no kernels", `[]`, report{}, ""},
		{"no last activity", `{"kernels": 0}`, report{}, ""},
		{"null last activity", `{"last_activity": null}`, report{}, ""},
		{"offset time", `{"last_activity": "2026-11-23T12:00:00+01:00"}`, report{Last: t2}, ""},
		{"not JSON", `<html>`, report{}, "invalid JSON"},
		{"a number", `42`, report{}, "want a JSON object or list, got a number"},
		{"bad time", `{"last_activity": "yesterday"}`, report{}, `last_activity: "yesterday" is not an RFC 3339 time`},
		{"time as a number", `{"last_activity": 1700000000}`, report{}, "last_activity: want a string, got a number"},
		{"list of strings", `["busy"]`, report{}, "[0]: want an object, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseActivity([]byte(tt.body))
			checkReport(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// TestProbe asks a real HTTP server, as the culler asks a service.
func TestProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/proxy/7/notebook0/8888/api/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "want GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"last_activity": "2026-11-23T10:00:00Z", "kernels": 1, "connections": 0}`))
	})
	mux.HandleFunc("/proxy/7/notebook0/8888/api/kernels", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`[{"execution_state": "busy"}]`))
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"last_activity": 3}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	prefix := ProxyPath("/proxy", 7, "notebook0", 8888)
	url := func(path string) string {
		return srv.URL + activityPath(zapp.ActivityURL{Path: path}, prefix)
	}
	tests := []struct {
		name    string
		url     string
		want    report
		wantErr string
	}{
		{"status", url("{proxy_path}api/status"), report{Last: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, ""},
		{"kernels", url("{proxy_path}api/kernels"), report{Busy: true}, ""},
		{"not found", url("/nothing"), report{}, "status 404"},
		{"bad answer", url("/broken"), report{}, "last_activity: want a string"},
		{"nobody there", "http://127.0.0.1:1/api/status", report{}, "activity URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := probe(context.Background(), srv.Client(), tt.url)
			checkReport(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func checkReport(t *testing.T, got report, err error, want report, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got error %v, want one containing %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !got.Last.Equal(want.Last) || got.Busy != want.Busy {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
