package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// TestStatusFollowsWrites checks that the status fragment, which reads
// the store once per change, shows every write at the next poll: status,
// services, deletion.
func TestStatusFollowsWrites(t *testing.T) {
	ctx := context.Background()
	p := newPortal(t)
	cookie := benchLogin(t, p.h)
	id, err := benchExecution(ctx, p.st, p.admin.ID, p.desc, 0, store.StatusRunning, 8888)
	if err != nil {
		t.Fatal(err)
	}
	poll := func() (int, string) {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/executions/%d/status", id), nil)
		r.Header.Set("Cookie", cookie)
		r.Header.Set("HX-Request", "true")
		w := httptest.NewRecorder()
		p.h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	svc := func() store.Service {
		ss, err := p.st.ExecutionServices(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ss[0]
	}
	tests := []struct {
		name   string
		write  func() error
		status int
		want   string // in the fragment
	}{
		{"as recorded", func() error { return nil }, http.StatusOK, "Running."},
		{"again, unchanged", func() error { return nil }, http.StatusOK, "Running."},
		{"service error", func() error {
			s := svc()
			s.ErrorMessage = "out of memory, restarting"
			return p.st.UpdateService(ctx, &s)
		}, http.StatusOK, "out of memory, restarting"},
		{"stopping", func() error {
			return p.st.SetExecutionStatus(ctx, id, nil, store.StatusCleaningUp, "", time.Now())
		}, http.StatusOK, "Stopping its containers."},
		{"terminated", func() error {
			return p.st.SetExecutionStatus(ctx, id, nil, store.StatusTerminated, "stopped by its owner", time.Now())
		}, http.StatusOK, "stopped by its owner"},
		{"deleted", func() error { return p.st.DeleteExecution(ctx, id) }, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		if err := tt.write(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		code, body := poll()
		if code != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s: got %d %q, want %d with %q", tt.name, code, body, tt.status, tt.want)
		}
	}
}

// TestSnapshotsStayBounded checks that the cache of snapshots drops old
// entries instead of growing with every execution ever polled.
func TestSnapshotsStayBounded(t *testing.T) {
	c := newSnapshots()
	now := time.Now()
	for id := range int64(3 * snapshotMaxEntries) {
		c.put(id, store.Version{}, now, executionSnapshot{})
	}
	if n := len(c.entries); n > snapshotMaxEntries {
		t.Errorf("got %d entries, want at most %d", n, snapshotMaxEntries)
	}
	if _, ok := c.get(3*snapshotMaxEntries-1, store.Version{}, now); !ok {
		t.Error("the newest entry is gone")
	}
	if _, ok := c.get(3*snapshotMaxEntries-1, store.Version{}, now.Add(snapshotLifetime)); ok {
		t.Error("got an entry past its lifetime")
	}
}
