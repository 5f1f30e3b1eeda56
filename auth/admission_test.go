package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zoe-analytics/zoe/store"
)

// Submissions racing for the last slots of a quota: exactly as many are
// admitted as fit, and the others get a QuotaError naming the quota.
func TestAdmissionRace(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	small := store.Quota{Name: "small", ConcurrentExecutions: 10, Memory: 4 * gib, MilliCores: 100000}
	if _, err := st.CreateQuota(ctx, &small); err != nil {
		t.Fatal(err)
	}
	gus := addUser(t, st, "gus", "guest", "pw") // default quota, unlimited
	ada := addUser(t, st, "ada", "user", "pw")
	ada.QuotaID = &small.ID
	if err := st.UpdateUser(ctx, ada); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		user      store.User
		req       Request
		tries     int
		wantOK    int
		wantQuota string
	}{
		{"guest: one execution at a time", gus, Request{Memory: gib}, 8, 1, QuotaExecutions},
		{"memory: four 1 GiB fit in 4 GiB, exactly at the limit", ada, Request{Memory: gib, MilliCores: 1000}, 10, 4, QuotaMemory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, tt.tries)
			for i := range tt.tries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := store.Execution{Name: fmt.Sprintf("run%d", i), UserID: tt.user.ID, Memory: tt.req.Memory, MilliCores: tt.req.MilliCores}
					_, errs[i] = st.CreateExecutionWithQuota(ctx, &e, nil, Admission(Role(tt.user.Role), tt.req))
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				var qe *QuotaError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &qe):
					if qe.Quota != tt.wantQuota {
						t.Errorf("refusal names quota %q, want %q: %v", qe.Quota, tt.wantQuota, err)
					}
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != tt.wantOK {
				t.Errorf("%d submissions admitted, want %d", ok, tt.wantOK)
			}
			usage, err := st.UsageByUser(ctx, tt.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			if usage.Executions != tt.wantOK {
				t.Errorf("usage = %+v, want %d executions", usage, tt.wantOK)
			}
		})
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("generated", func(t *testing.T) {
		st := openStore(t)
		pw, err := ensureAdmin(ctx, st, "", bcrypt.MinCost)
		if err != nil || len(pw) < 12 {
			t.Fatalf("ensureAdmin = %q, %v; want a generated password", pw, err)
		}
		g := newTestGate(t, st, NewBuiltin(st), newFakeClock())
		u, err := g.SignIn(ctx, AdminName, pw, "")
		if err != nil || u.Role != "admin" {
			t.Errorf("sign in with the generated password = %+v, %v", u, err)
		}
		again, err := ensureAdmin(ctx, st, "", bcrypt.MinCost)
		if err != nil || again != "" {
			t.Errorf("second start = %q, %v; want nothing created", again, err)
		}
		if n, _ := st.CountUsers(ctx); n != 1 {
			t.Errorf("CountUsers = %d, want 1", n)
		}
	})
	t.Run("configured", func(t *testing.T) {
		st := openStore(t)
		pw, err := ensureAdmin(ctx, st, "chosen-pw", bcrypt.MinCost)
		if err != nil || pw != "" {
			t.Fatalf("ensureAdmin = %q, %v; want nothing to print", pw, err)
		}
		g := newTestGate(t, st, NewBuiltin(st), newFakeClock())
		if _, err := g.SignIn(ctx, AdminName, "chosen-pw", ""); err != nil {
			t.Errorf("sign in with the configured password: %v", err)
		}
	})
}

func TestSessionSweeper(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now().UTC()
	for _, s := range []store.Session{
		{ID: "old", Data: []byte{}, ExpiresAt: now.Add(time.Hour)},
		{ID: "new", Data: []byte{}, ExpiresAt: now.Add(3 * time.Hour)},
	} {
		if err := st.SaveSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	sw := NewSessionSweeper(st, time.Hour, nil)
	sw.now = func() time.Time { return now.Add(2 * time.Hour) }
	sw.runOnce(ctx)
	if _, err := st.SessionByID(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session after a sweep: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionByID(ctx, "new"); err != nil {
		t.Errorf("live session after a sweep: %v, want it kept", err)
	}

	// The loop stops when asked, and only one runs.
	sw.Start(ctx)
	sw.Start(ctx)
	stopped := make(chan struct{})
	go func() { sw.Stop(); sw.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
}
