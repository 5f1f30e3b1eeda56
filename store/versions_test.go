package store

import (
	"context"
	"testing"
	"time"
)

// TestExecutionVersion checks that every write that changes what an
// execution's status shows moves its version, and that reads and writes
// to other executions do not.
func TestExecutionVersion(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "ada")
		e := newExecution(t, s, u.ID, StatusSubmitted)
		other := newExecution(t, s, u.ID, StatusSubmitted)
		svcs, err := s.ExecutionServices(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tests := []struct {
			name  string
			write func() error
			moves bool // e's version
		}{
			{"read of e", func() error { _, err := s.Execution(ctx, e.ID); return err }, false},
			{"status of another execution", func() error {
				return s.SetExecutionStatus(ctx, other.ID, nil, StatusQueued, "", now)
			}, false},
			{"status", func() error { return s.SetExecutionStatus(ctx, e.ID, nil, StatusQueued, "", now) }, true},
			{"refused status change", func() error {
				_ = s.SetExecutionStatus(ctx, e.ID, []string{StatusRunning}, StatusStarting, "", now)
				return nil
			}, true},
			{"service", func() error {
				svcs[0].Status = ServiceActive
				return s.UpdateService(ctx, &svcs[0])
			}, true},
			{"network", func() error { return s.SetExecutionNetwork(ctx, e.ID, "zoe-net-1") }, true},
			{"activity", func() error {
				if err := s.SetExecutionStatus(ctx, e.ID, nil, StatusRunning, "", now); err != nil {
					return err
				}
				return s.MarkExecutionActive(ctx, e.ID, now.Add(time.Minute))
			}, true},
			{"quota", func() error {
				q, err := s.QuotaByName(ctx, DefaultQuota)
				if err != nil {
					return err
				}
				q.RuntimeLimit = time.Hour
				return s.UpdateQuota(ctx, q)
			}, true},
			{"user", func() error {
				u.Role = "admin"
				return s.UpdateUser(ctx, u)
			}, true},
			{"event", func() error { return s.AddEvent(ctx, Event{ExecutionID: e.ID, At: now, Kind: "note", Message: "x"}) }, false},
			{"deletion", func() error {
				if err := s.SetExecutionStatus(ctx, e.ID, nil, StatusTerminated, "", now); err != nil {
					return err
				}
				return s.DeleteExecution(ctx, e.ID)
			}, true},
		}
		for _, tt := range tests {
			before := s.ExecutionVersion(e.ID)
			if err := tt.write(); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if moved := s.ExecutionVersion(e.ID) != before; moved != tt.moves {
				t.Errorf("%s: version moved %v, want %v", tt.name, moved, tt.moves)
			}
		}
	})
}
