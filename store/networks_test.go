package store

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExecutionNetwork(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "alice")
		a := newExecution(t, s, u.ID, StatusStarting)
		b := newExecution(t, s, u.ID, StatusTerminated)
		if got, err := s.Execution(ctx, a.ID); err != nil || got.Network != "" {
			t.Fatalf("new execution: got network %q (%v), want none", got.Network, err)
		}

		if err := s.SetExecutionNetwork(ctx, a.ID, "zoe-prod-pool-a"); err != nil {
			t.Fatalf("SetExecutionNetwork: %v", err)
		}
		if err := s.SetExecutionNetwork(ctx, b.ID, "zoe-prod-pool-b"); err != nil {
			t.Fatalf("SetExecutionNetwork: %v", err)
		}
		// A recorded network is never replaced: the execution may still
		// have something on it.
		if err := s.SetExecutionNetwork(ctx, a.ID, "zoe-prod-pool-c"); !errors.Is(err, ErrConflict) {
			t.Errorf("second SetExecutionNetwork: got %v, want ErrConflict", err)
		}
		if err := s.SetExecutionNetwork(ctx, 9999, "zoe-prod-pool-d"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetExecutionNetwork of a missing execution: got %v, want ErrNotFound", err)
		}
		if got, err := s.Execution(ctx, a.ID); err != nil || got.Network != "zoe-prod-pool-a" {
			t.Errorf("Execution: got network %q (%v), want zoe-prod-pool-a", got.Network, err)
		}
		active, err := s.ActiveExecutions(ctx)
		if err != nil || len(active) != 1 || active[0].Network != "zoe-prod-pool-a" {
			t.Errorf("ActiveExecutions: got %+v (%v), want execution %d on zoe-prod-pool-a", active, err, a.ID)
		}

		tests := []struct {
			names []string
			want  map[string]bool
		}{
			{nil, map[string]bool{}},
			{[]string{"zoe-prod-pool-x"}, map[string]bool{}},
			// Ended executions count: their network was given away once.
			{[]string{"zoe-prod-pool-a", "zoe-prod-pool-b", "zoe-prod-pool-c"}, map[string]bool{"zoe-prod-pool-a": true, "zoe-prod-pool-b": true}},
		}
		for _, tt := range tests {
			got, err := s.RecordedNetworks(ctx, tt.names)
			if err != nil {
				t.Fatalf("RecordedNetworks(%v): %v", tt.names, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RecordedNetworks(%v) (-want +got):\n%s", tt.names, diff)
			}
		}
	})
}
