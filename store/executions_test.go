package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCreateExecution(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "alice")
		submitted := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.UTC)
		e := Execution{
			Name: "spark", UserID: u.ID, ZappID: "spark-jupyter", Description: []byte(`{"name":"spark","services":[]}`),
			Size: 42.5, Memory: 3 << 30, MilliCores: 2500, SubmittedAt: submitted,
		}
		services := sampleServices()
		id, err := s.CreateExecution(ctx, &e, services)
		if err != nil {
			t.Fatalf("CreateExecution: %v", err)
		}
		if id == 0 || id != e.ID {
			t.Fatalf("got id %d and ID %d, want the same non-zero id", id, e.ID)
		}
		for i, sv := range services {
			if sv.ID == 0 || sv.ExecutionID != e.ID {
				t.Errorf("service %d: got ID %d, execution %d; want both filled", i, sv.ID, sv.ExecutionID)
			}
			if sv.Status != ServiceCreated || sv.BackendStatus != BackendUndefined {
				t.Errorf("service %d: got states %s/%s, want created/undefined", i, sv.Status, sv.BackendStatus)
			}
			for j, p := range sv.Ports {
				if p.ID == 0 || p.ServiceID != sv.ID {
					t.Errorf("service %d port %d: got ID %d, service %d; want both filled", i, j, p.ID, p.ServiceID)
				}
			}
		}

		want := e
		want.Username = "alice"
		want.Status = StatusSubmitted
		want.SubmittedAt = submitted.Truncate(time.Microsecond)
		want.UpdatedAt = want.SubmittedAt
		got, err := s.Execution(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Execution (-want +got):\n%s", diff)
		}
		gotServices, err := s.ExecutionServices(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(services, gotServices); diff != "" {
			t.Errorf("ExecutionServices (-want +got):\n%s", diff)
		}
		if got, err := s.ServiceByID(ctx, services[0].ID); err != nil || !cmp.Equal(services[0], got) {
			t.Errorf("ServiceByID: %v (-want +got):\n%s", err, cmp.Diff(services[0], got))
		}

		for name, err := range map[string]error{
			"Execution":   func() error { _, err := s.Execution(ctx, 9999); return err }(),
			"ServiceByID": func() error { _, err := s.ServiceByID(ctx, 9999); return err }(),
			"unknown user": func() error {
				_, err := s.CreateExecution(ctx, &Execution{Name: "x", UserID: 9999}, nil)
				return err
			}(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: got %v, want ErrNotFound", name, err)
			}
		}
		// A failing service leaves no execution behind.
		dup := sampleServices()
		dup[1].Name = dup[0].Name
		if _, err := s.CreateExecution(ctx, &Execution{Name: "dup", UserID: u.ID}, dup); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate service names: got %v, want ErrConflict", err)
		}
		if got := count(t, s, "executions"); got != 1 {
			t.Errorf("got %d executions, want 1: a failed create must roll back", got)
		}
		if none, err := s.ExecutionServices(ctx, 9999); err != nil || len(none) != 0 {
			t.Errorf("services of a missing execution: got %v, %v; want none", none, err)
		}
	})
}

func TestListExecutions(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
		base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
		var ids []int64 // in submission order
		for i, spec := range []struct {
			user   int64
			status string
			zapp   string
		}{
			{alice.ID, StatusTerminated, "jupyter"},
			{alice.ID, StatusRunning, "spark"},
			{bob.ID, StatusQueued, "jupyter"},
			{alice.ID, StatusError, "jupyter"},
			{bob.ID, StatusRunning, "spark"},
		} {
			e := Execution{Name: fmt.Sprint("e", i), UserID: spec.user, Status: spec.status, ZappID: spec.zapp,
				SubmittedAt: base.Add(time.Duration(i) * time.Hour)}
			if _, err := s.CreateExecution(ctx, &e, nil); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		tests := []struct {
			name      string
			filter    ExecutionFilter
			want      []int64
			wantTotal int
		}{
			{"all, newest first", ExecutionFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}, 5},
			{"by user", ExecutionFilter{UserID: bob.ID}, []int64{ids[4], ids[2]}, 2},
			{"by statuses", ExecutionFilter{Statuses: []string{StatusRunning, StatusQueued}}, []int64{ids[4], ids[2], ids[1]}, 3},
			{"by zapp", ExecutionFilter{ZappID: "spark"}, []int64{ids[4], ids[1]}, 2},
			{"since", ExecutionFilter{Since: base.Add(3 * time.Hour)}, []int64{ids[4], ids[3]}, 2},
			{"since, another zone", ExecutionFilter{Since: base.Add(3 * time.Hour).In(time.FixedZone("X", -5*3600))}, []int64{ids[4], ids[3]}, 2},
			{"combined", ExecutionFilter{UserID: alice.ID, ZappID: "jupyter", Statuses: []string{StatusError}}, []int64{ids[3]}, 1},
			{"page", ExecutionFilter{Limit: 2, Offset: 1}, []int64{ids[3], ids[2]}, 5},
			{"offset only", ExecutionFilter{Offset: 3}, []int64{ids[1], ids[0]}, 5},
			{"past the end", ExecutionFilter{Offset: 10}, nil, 5},
			{"nothing", ExecutionFilter{ZappID: "none"}, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				es, total, err := s.ListExecutions(ctx, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, e := range es {
					got = append(got, e.ID)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
				if total != tt.wantTotal {
					t.Errorf("got total %d, want %d", total, tt.wantTotal)
				}
			})
		}
		es, _, _ := s.ListExecutions(ctx, ExecutionFilter{UserID: bob.ID, Limit: 1})
		if len(es) != 1 || es[0].Username != "bob" {
			t.Errorf("got %+v, want bob's execution with his username", es)
		}

		counts, err := s.CountExecutionsByStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[string]int{StatusTerminated: 1, StatusRunning: 2, StatusQueued: 1, StatusError: 1}
		if diff := cmp.Diff(wantCounts, counts); diff != "" {
			t.Errorf("CountExecutionsByStatus (-want +got):\n%s", diff)
		}
	})
}

func TestActiveExecutions(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "alice")
		if es, err := s.ActiveExecutions(ctx); err != nil || len(es) != 0 {
			t.Errorf("fresh store: got %v, %v; want none", es, err)
		}
		var want []int64
		for _, status := range []string{StatusRunning, StatusTerminated, StatusStarting, StatusError, StatusCleaningUp} {
			e := newExecution(t, s, u.ID, status)
			if IsActive(status) {
				want = append(want, e.ID)
			}
		}
		es, err := s.ActiveExecutions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range es {
			got = append(got, e.ID)
			services, err := s.ExecutionServices(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(services, e.Services); diff != "" {
				t.Errorf("execution %d services (-want +got):\n%s", e.ID, diff)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("active ids, oldest first (-want +got):\n%s", diff)
		}
	})
}

func TestSetExecutionStatus(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "alice")
		at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
		tests := []struct {
			name       string
			initial    string
			from       []string
			to         string
			msg        string
			wantErr    error
			wantStatus string
			started    bool
			ended      bool
			wantMsg    string
		}{
			{name: "queue", initial: StatusSubmitted, from: []string{StatusSubmitted}, to: StatusQueued, wantStatus: StatusQueued},
			{name: "run sets start", initial: StatusStarting, from: []string{StatusStarting}, to: StatusRunning, wantStatus: StatusRunning, started: true},
			{name: "terminate sets end and reason", initial: StatusCleaningUp, from: []string{StatusCleaningUp}, to: StatusTerminated,
				msg: "user alice request from web interface", wantStatus: StatusTerminated, ended: true, wantMsg: "user alice request from web interface"},
			{name: "error sets end", initial: StatusStarting, from: []string{StatusQueued, StatusStarting}, to: StatusError,
				msg: "image zoe/jupyter:6.4 is not on host h2", wantStatus: StatusError, ended: true, wantMsg: "image zoe/jupyter:6.4 is not on host h2"},
			{name: "any from", initial: StatusRunning, to: StatusCleaningUp, wantStatus: StatusCleaningUp},
			{name: "not in from", initial: StatusRunning, from: []string{StatusQueued, StatusStarting}, to: StatusRunning,
				wantErr: ErrConflict, wantStatus: StatusRunning},
			{name: "ended stays ended", initial: StatusTerminated, from: ActiveStatuses(), to: StatusCleaningUp,
				wantErr: ErrConflict, wantStatus: StatusTerminated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newExecution(t, s, u.ID, tt.initial)
				err := s.SetExecutionStatus(ctx, e.ID, tt.from, tt.to, tt.msg, at)
				if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				got, err := s.Execution(ctx, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != tt.wantStatus {
					t.Errorf("got status %s, want %s", got.Status, tt.wantStatus)
				}
				if (got.StartedAt != nil && got.StartedAt.Equal(at)) != tt.started {
					t.Errorf("got started at %v, want set to %v: %t", got.StartedAt, at, tt.started)
				}
				if (got.EndedAt != nil && got.EndedAt.Equal(at)) != tt.ended {
					t.Errorf("got ended at %v, want set to %v: %t", got.EndedAt, at, tt.ended)
				}
				if got.ErrorMessage != tt.wantMsg {
					t.Errorf("got message %q, want %q", got.ErrorMessage, tt.wantMsg)
				}
				if tt.wantErr == nil && !got.UpdatedAt.Equal(at) {
					t.Errorf("got updated at %v, want %v", got.UpdatedAt, at)
				}
			})
		}
		t.Run("requeue clears the end, keeps the message", func(t *testing.T) {
			e := newExecution(t, s, u.ID, StatusStarting)
			if err := s.SetExecutionStatus(ctx, e.ID, nil, StatusTerminated, "host h1 is full", at); err != nil {
				t.Fatal(err)
			}
			if err := s.SetExecutionStatus(ctx, e.ID, []string{StatusTerminated}, StatusQueued, "", at.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Execution(ctx, e.ID)
			if got.EndedAt != nil || got.ErrorMessage != "host h1 is full" {
				t.Errorf("got ended %v, message %q; want no end and the message kept", got.EndedAt, got.ErrorMessage)
			}
		})
		t.Run("missing", func(t *testing.T) {
			for _, from := range [][]string{nil, {StatusQueued}} {
				if err := s.SetExecutionStatus(ctx, 9999, from, StatusQueued, "", at); !errors.Is(err, ErrNotFound) {
					t.Errorf("from %v: got %v, want ErrNotFound", from, err)
				}
			}
		})
	})
}

func TestConcurrentTransitionsHaveOneWinner(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := newExecution(t, s, newUser(t, s, "alice").ID, StatusRunning)
		const n = 8
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs <- s.SetExecutionStatus(ctx, e.ID, []string{StatusRunning}, StatusCleaningUp, fmt.Sprint("terminator ", i), time.Now())
			})
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrConflict):
				t.Errorf("got %v, want nil or ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Errorf("got %d winners, want exactly 1", wins)
		}
	})
}

func TestDeleteExecution(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "alice")
		keep := newExecution(t, s, u.ID, StatusRunning)
		for _, status := range ActiveStatuses() {
			e := newExecution(t, s, u.ID, status)
			if err := s.DeleteExecution(ctx, e.ID); !errors.Is(err, ErrConflict) {
				t.Errorf("deleting a %s execution: got %v, want ErrConflict", status, err)
			}
		}
		for _, status := range []string{StatusTerminated, StatusError} {
			e := newExecution(t, s, u.ID, status)
			if err := s.AddEvent(ctx, Event{ExecutionID: e.ID, Kind: "status", Message: status}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteExecution(ctx, e.ID); err != nil {
				t.Errorf("deleting a %s execution: %v", status, err)
			}
			if _, err := s.Execution(ctx, e.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted execution: got %v, want ErrNotFound", err)
			}
		}
		if err := s.DeleteExecution(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing execution: got %v, want ErrNotFound", err)
		}
		// Only the active executions' rows remain.
		active := len(ActiveStatuses()) + 1
		for table, want := range map[string]int{"executions": active, "services": 2 * active, "ports": 2 * active, "events": 0} {
			if got := count(t, s, table); got != want {
				t.Errorf("got %d rows in %s, want %d", got, table, want)
			}
		}
		if _, err := s.Execution(ctx, keep.ID); err != nil {
			t.Errorf("other execution: %v", err)
		}
	})
}

func TestUpdateService(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := newExecution(t, s, newUser(t, s, "alice").ID, StatusStarting)
		services, err := s.ExecutionServices(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		sv := services[0]
		exit := 137
		sv.Status, sv.BackendStatus, sv.BackendID, sv.Host = ServiceActive, BackendStarted, "c0ffee", "h1"
		sv.IPAddress, sv.DNSName, sv.RestartCount = "10.0.0.5", fmt.Sprintf("jupyter0-%d-test", e.ID), 2
		sv.ErrorMessage, sv.ExitCode = "killed: out of memory (limit 512 MiB)", &exit
		sv.Ports[0].ExternalIP, sv.Ports[0].ExternalPort = "192.0.2.1", 32768
		// Neither what a service is nor its reservation change this way.
		changed := sv
		changed.Name, changed.Memory, changed.Essential = "renamed", 1, false
		before := time.Now().Add(-time.Second)
		if err := s.UpdateService(ctx, &changed); err != nil {
			t.Fatalf("UpdateService: %v", err)
		}
		got, err := s.ServiceByID(ctx, sv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sv, got); diff != "" {
			t.Errorf("after UpdateService (-want +got):\n%s", diff)
		}
		if got, err := s.ServiceByContainer(ctx, "h1", "c0ffee"); err != nil || got.ID != sv.ID {
			t.Errorf("ServiceByContainer: got %d, %v; want %d", got.ID, err, sv.ID)
		}
		if _, err := s.ServiceByContainer(ctx, "h2", "c0ffee"); !errors.Is(err, ErrNotFound) {
			t.Errorf("container on another host: got %v, want ErrNotFound", err)
		}
		if got, _ := s.Execution(ctx, e.ID); !got.UpdatedAt.After(before) {
			t.Errorf("got execution updated at %v, want after %v", got.UpdatedAt, before)
		}

		// Clearing the exit code and the published port.
		sv.ExitCode, sv.Ports[0].ExternalIP, sv.Ports[0].ExternalPort = nil, "", 0
		if err := s.UpdateService(ctx, &sv); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ServiceByID(ctx, sv.ID); !cmp.Equal(sv, got) {
			t.Errorf("after clearing (-want +got):\n%s", cmp.Diff(sv, got))
		}

		// Ports are matched within their own service only.
		other := services[1]
		other.Ports = sv.Ports
		if err := s.UpdateService(ctx, &other); !errors.Is(err, ErrNotFound) {
			t.Errorf("another service's port: got %v, want ErrNotFound", err)
		}
		if err := s.UpdateService(ctx, &Service{ID: 9999}); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing service: got %v, want ErrNotFound", err)
		}
	})
}

func TestEvents(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		e := newExecution(t, s, newUser(t, s, "alice").ID, StatusSubmitted)
		at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
		want := []Event{
			{ExecutionID: e.ID, At: at, Kind: "status", Message: "queued"},
			{ExecutionID: e.ID, At: at, Kind: "status", Message: "starting"},
			{ExecutionID: e.ID, At: at.Add(50 * time.Millisecond), Kind: "service", Message: "jupyter0 starting"},
			{ExecutionID: e.ID, At: at.Add(250 * time.Millisecond), Kind: "service", Message: "jupyter0 created"},
			{ExecutionID: e.ID, At: at.Add(500*time.Millisecond + time.Microsecond), Kind: "service", Message: "jupyter0 started on h1"},
			{ExecutionID: e.ID, At: at.Add(time.Second), Kind: "status", Message: "running"},
		}
		// Added out of order, with fractions of a second of every length
		// (SQLite compares times as text): events come back by time, then
		// in the order they were added.
		for _, i := range []int{5, 3, 0, 4, 1, 2} {
			if err := s.AddEvent(ctx, want[i]); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Events(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpIgnoreEventID()); diff != "" {
			t.Errorf("Events (-want +got):\n%s", diff)
		}
		if err := s.AddEvent(ctx, Event{ExecutionID: 9999, Kind: "x"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("event of a missing execution: got %v, want ErrNotFound", err)
		}
	})
}

func cmpIgnoreEventID() cmp.Option {
	return cmp.Transformer("noID", func(e Event) Event { e.ID = 0; return e })
}

// TestConcurrentWriters hammers each back-end with writers that each create
// executions and move them along, then checks that nothing was lost.
func TestConcurrentWriters(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const writers, perWriter = 8, 50
		users := make([]User, writers)
		for i := range users {
			users[i] = newUser(t, s, fmt.Sprint("writer", i))
		}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					e := Execution{Name: fmt.Sprintf("w%d-%d", w, i), UserID: users[w].ID, Memory: 1, MilliCores: 10}
					if _, err := s.CreateExecution(ctx, &e, sampleServices()); err != nil {
						t.Errorf("CreateExecution: %v", err)
						return
					}
					if err := s.SetExecutionStatus(ctx, e.ID, []string{StatusSubmitted}, StatusQueued, "", time.Now()); err != nil {
						t.Errorf("SetExecutionStatus: %v", err)
						return
					}
					if err := s.AddEvent(ctx, Event{ExecutionID: e.ID, Kind: "status", Message: "queued"}); err != nil {
						t.Errorf("AddEvent: %v", err)
						return
					}
					// Readers run alongside the writers.
					if _, _, err := s.ListExecutions(ctx, ExecutionFilter{UserID: users[w].ID, Limit: 5}); err != nil {
						t.Errorf("ListExecutions: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		const total = writers * perWriter
		for table, want := range map[string]int{"executions": total, "services": 2 * total, "ports": 2 * total, "events": total} {
			if got := count(t, s, table); got != want {
				t.Errorf("got %d rows in %s, want %d", got, table, want)
			}
		}
		counts, err := s.CountExecutionsByStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{StatusQueued: total}, counts); diff != "" {
			t.Errorf("CountExecutionsByStatus (-want +got):\n%s", diff)
		}
		for _, u := range users {
			if got, err := s.UsageByUser(ctx, u.ID); err != nil || got != (Usage{Executions: perWriter, Memory: perWriter, MilliCores: 10 * perWriter}) {
				t.Errorf("usage of %s: got %+v, %v", u.Username, got, err)
			}
		}
		if s.Kind() == KindSQLite {
			var check string
			if err := s.rdb.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check: got %q, %v; want ok", check, err)
			}
		}
	})
}
