package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestIdleColumns(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "idler")
		idle := 30 * time.Minute
		e := Execution{Name: "nb", UserID: u.ID, Status: StatusRunning, IdleTimeout: &idle,
			Activity: []byte(`[{"service":"notebook","port":8888,"path":"{proxy_path}api/status"}]`)}
		if _, err := s.CreateExecution(ctx, &e, sampleServices()); err != nil {
			t.Fatal(err)
		}
		old := newExecution(t, s, u.ID, StatusQueued)

		got, err := s.Execution(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.IdleTimeout == nil || *got.IdleTimeout != idle || string(got.Activity) != string(e.Activity) || got.LastActiveAt != nil {
			t.Errorf("got idle %v, activity %s, last active %v; want 30m, the URLs, none", got.IdleTimeout, got.Activity, got.LastActiveAt)
		}
		if got, _ := s.Execution(ctx, old.ID); got.IdleTimeout != nil || got.Activity != nil {
			t.Errorf("got idle %v and activity %s for an execution recorded without, want none", got.IdleTimeout, got.Activity)
		}

		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		for _, mark := range []time.Time{at, at.Add(-time.Hour)} { // an earlier time changes nothing
			if err := s.MarkExecutionActive(ctx, e.ID, mark); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.Execution(ctx, e.ID); got.LastActiveAt == nil || !got.LastActiveAt.Equal(at) {
			t.Errorf("got last active %v, want %v", got.LastActiveAt, at)
		}
		if err := s.MarkExecutionActive(ctx, old.ID, at); !errors.Is(err, ErrConflict) {
			t.Errorf("marking a queued execution active: got %v, want ErrConflict", err)
		}
		if err := s.MarkExecutionActive(ctx, 1<<40, at); !errors.Is(err, ErrConflict) {
			t.Errorf("marking an unknown execution active: got %v, want ErrConflict", err)
		}
	})
}
