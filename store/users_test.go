package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUsers(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if n, err := s.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("got %d users, %v; want 0 on a fresh store", n, err)
		}
		login := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
		alice := User{
			Username: "alice", Role: "admin", Source: "ldap", PasswordHash: "$2a$10$x", Email: "alice@example.org",
			FSUID: 1001, Enabled: true, CreatedAt: login, LastLoginAt: &login,
		}
		id, err := s.CreateUser(ctx, &alice)
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if id == 0 || id != alice.ID {
			t.Errorf("got id %d and ID %d, want the same non-zero id", id, alice.ID)
		}
		// Stored times come back in UTC, to the microsecond.
		want := alice
		want.CreatedAt = login.UTC().Truncate(time.Microsecond)
		wantLogin := want.CreatedAt
		want.LastLoginAt = &wantLogin
		bob := newUser(t, s, "bob")

		got, err := s.UserByID(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UserByID (-want +got):\n%s", diff)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("got location %v, want UTC", got.CreatedAt.Location())
		}
		got, err = s.UserByName(ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(bob, got); diff != "" {
			t.Errorf("UserByName (-want +got):\n%s", diff)
		}
		list, err := s.ListUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]User{want, bob}, list); diff != "" {
			t.Errorf("ListUsers (-want +got):\n%s", diff)
		}
		if n, err := s.CountUsers(ctx); err != nil || n != 2 {
			t.Errorf("got %d users, %v; want 2", n, err)
		}

		dup := User{Username: "alice", Role: "user", Source: "builtin"}
		if _, err := s.CreateUser(ctx, &dup); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate username: got %v, want ErrConflict", err)
		}
		noQuota := int64(9999)
		ghost := User{Username: "ghost", Role: "user", Source: "builtin", QuotaID: &noQuota}
		if _, err := s.CreateUser(ctx, &ghost); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown quota: got %v, want ErrNotFound", err)
		}

		q := Quota{Name: "small", ConcurrentExecutions: 1}
		if _, err := s.CreateQuota(ctx, &q); err != nil {
			t.Fatal(err)
		}
		bob.Role, bob.Source, bob.PasswordHash, bob.Email, bob.FSUID, bob.QuotaID, bob.Enabled =
			"guest", "text", "new", "bob@example.org", 2000, &q.ID, false
		bob.Username = "robert" // ignored: usernames never change
		if err := s.UpdateUser(ctx, bob); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		bob.Username = "bob"
		if got, _ := s.UserByID(ctx, bob.ID); !cmp.Equal(bob, got) {
			t.Errorf("after UpdateUser (-want +got):\n%s", cmp.Diff(bob, got))
		}
		at := time.Now()
		if err := s.TouchLogin(ctx, bob.ID, at); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.UserByID(ctx, bob.ID); got.LastLoginAt == nil || !got.LastLoginAt.Equal(dbTime(at)) {
			t.Errorf("got last login %v, want %v", got.LastLoginAt, dbTime(at))
		}

		if err := s.DeleteUser(ctx, alice.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		notFound := map[string]error{
			"UserByID":     func() error { _, err := s.UserByID(ctx, alice.ID); return err }(),
			"UserByName":   func() error { _, err := s.UserByName(ctx, "alice"); return err }(),
			"UpdateUser":   s.UpdateUser(ctx, alice),
			"TouchLogin":   s.TouchLogin(ctx, alice.ID, at),
			"DeleteUser":   s.DeleteUser(ctx, alice.ID),
			"QuotaForUser": func() error { _, err := s.QuotaForUser(ctx, alice.ID); return err }(),
		}
		for op, err := range notFound {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of a deleted user: got %v, want ErrNotFound", op, err)
			}
		}
	})
}

func TestDeleteUserCascades(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "carol")
		other := newUser(t, s, "dave")
		running := newExecution(t, s, u.ID, StatusRunning)
		newExecution(t, s, u.ID, StatusTerminated)
		newExecution(t, s, other.ID, StatusTerminated)
		if _, err := s.CreateToken(ctx, &Token{UserID: u.ID, Name: "cli", Hash: "h1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveSession(ctx, Session{ID: "s1", UserID: &u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		if err := s.DeleteUser(ctx, u.ID); !errors.Is(err, ErrConflict) {
			t.Fatalf("user with an active execution: got %v, want ErrConflict", err)
		}
		if err := s.SetExecutionStatus(ctx, running.ID, nil, StatusTerminated, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		for table, want := range map[string]int{"executions": 1, "services": 2, "ports": 2, "tokens": 0, "sessions": 0} {
			if got := count(t, s, table); got != want {
				t.Errorf("got %d rows in %s, want %d", got, table, want)
			}
		}
	})
}

func TestQuotas(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		def, err := s.QuotaByName(ctx, DefaultQuota)
		if err != nil {
			t.Fatalf("the default quota: %v", err)
		}
		if want := (Quota{ID: def.ID, Name: DefaultQuota}); def != want {
			t.Errorf("got default quota %+v, want %+v (unlimited)", def, want)
		}
		q := Quota{Name: "students", ConcurrentExecutions: 2, Memory: 8 << 30, MilliCores: 4000, RuntimeLimit: 24 * time.Hour}
		if _, err := s.CreateQuota(ctx, &q); err != nil {
			t.Fatal(err)
		}
		if got, err := s.QuotaByID(ctx, q.ID); err != nil || got != q {
			t.Errorf("QuotaByID: got %+v, %v; want %+v", got, err, q)
		}
		if _, err := s.CreateQuota(ctx, &Quota{Name: "students"}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate name: got %v, want ErrConflict", err)
		}
		list, err := s.ListQuotas(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Quota{def, q}, list); diff != "" {
			t.Errorf("ListQuotas (-want +got):\n%s", diff)
		}

		u := newUser(t, s, "erin")
		if got, err := s.QuotaForUser(ctx, u.ID); err != nil || got != def {
			t.Errorf("user without a quota: got %+v, %v; want the default", got, err)
		}
		u.QuotaID = &q.ID
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, err := s.QuotaForUser(ctx, u.ID); err != nil || got != q {
			t.Errorf("user with a quota: got %+v, %v; want %+v", got, err, q)
		}

		q.MilliCores, q.Name = 8000, "pupils"
		if err := s.UpdateQuota(ctx, q); err != nil {
			t.Fatalf("UpdateQuota: %v", err)
		}
		if got, _ := s.QuotaByID(ctx, q.ID); got != q {
			t.Errorf("after UpdateQuota: got %+v, want %+v", got, q)
		}
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"rename default", s.UpdateQuota(ctx, Quota{ID: def.ID, Name: "other"}), ErrConflict},
			{"take a used name", s.UpdateQuota(ctx, Quota{ID: q.ID, Name: DefaultQuota}), ErrConflict},
			{"delete default", s.DeleteQuota(ctx, def.ID), ErrConflict},
			{"update missing", s.UpdateQuota(ctx, Quota{ID: 9999, Name: "x"}), ErrNotFound},
			{"delete missing", s.DeleteQuota(ctx, 9999), ErrNotFound},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
			}
		}
		// The default quota's limits may still change.
		def.ConcurrentExecutions = 5
		if err := s.UpdateQuota(ctx, def); err != nil {
			t.Errorf("update default limits: %v", err)
		}

		if err := s.DeleteQuota(ctx, q.ID); err != nil {
			t.Fatalf("DeleteQuota: %v", err)
		}
		if got, err := s.QuotaForUser(ctx, u.ID); err != nil || got != def {
			t.Errorf("after deleting their quota: got %+v, %v; want the default %+v", got, err, def)
		}
	})
}

func TestUsageByUser(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "frank")
		other := newUser(t, s, "grace")
		if got, err := s.UsageByUser(ctx, u.ID); err != nil || got != (Usage{}) {
			t.Errorf("no executions: got %+v, %v; want zero", got, err)
		}
		for _, status := range []string{StatusSubmitted, StatusQueued, StatusStarting, StatusRunning, StatusCleaningUp,
			StatusTerminated, StatusError} {
			newExecution(t, s, u.ID, status)
		}
		newExecution(t, s, other.ID, StatusRunning)
		want := Usage{Executions: 5, Memory: 5 * (3 << 30), MilliCores: 5 * 2500}
		if got, err := s.UsageByUser(ctx, u.ID); err != nil || got != want {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
	})
}

var errQuotaExceeded = errors.New("quota exceeded")

func TestCreateExecutionWithQuotaRace(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		q := Quota{Name: "three", ConcurrentExecutions: 3}
		if _, err := s.CreateQuota(ctx, &q); err != nil {
			t.Fatal(err)
		}
		u := newUser(t, s, "heidi")
		u.QuotaID = &q.ID
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		check := func(q Quota, u Usage) error {
			if u.Executions >= q.ConcurrentExecutions {
				return errQuotaExceeded
			}
			return nil
		}
		const n = 10
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				e := Execution{Name: "race", UserID: u.ID}
				_, err := s.CreateExecutionWithQuota(ctx, &e, sampleServices(), check)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		admitted := 0
		for err := range errs {
			switch {
			case err == nil:
				admitted++
			case !errors.Is(err, errQuotaExceeded):
				t.Errorf("got %v, want nil or the check's error", err)
			}
		}
		if admitted != q.ConcurrentExecutions {
			t.Errorf("got %d admitted, want exactly %d", admitted, q.ConcurrentExecutions)
		}
		if got := count(t, s, "services"); got != 2*q.ConcurrentExecutions {
			t.Errorf("got %d services, want %d: refused submissions must leave nothing", got, 2*q.ConcurrentExecutions)
		}
		if _, err := s.CreateExecutionWithQuota(ctx, &Execution{UserID: 9999}, nil, check); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown user: got %v, want ErrNotFound", err)
		}
	})
}

func TestTokens(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "ivan")
		other := newUser(t, s, "judy")
		past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
		cli := Token{UserID: u.ID, Name: "cli", Hash: "hash-cli", CreatedAt: time.Now().Add(-2 * time.Hour)}
		ci := Token{UserID: u.ID, Name: "ci", Hash: "hash-ci", ExpiresAt: &future}
		old := Token{UserID: u.ID, Name: "old", Hash: "hash-old", CreatedAt: time.Now().Add(-3 * time.Hour), ExpiresAt: &past}
		for _, tok := range []*Token{&cli, &ci, &old} {
			if _, err := s.CreateToken(ctx, tok); err != nil {
				t.Fatalf("CreateToken %s: %v", tok.Name, err)
			}
		}
		if _, err := s.CreateToken(ctx, &Token{UserID: u.ID, Name: "cli", Hash: "other"}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate name: got %v, want ErrConflict", err)
		}
		if _, err := s.CreateToken(ctx, &Token{UserID: other.ID, Name: "cli", Hash: "hash-cli"}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate hash: got %v, want ErrConflict", err)
		}
		if _, err := s.CreateToken(ctx, &Token{UserID: other.ID, Name: "cli", Hash: "hash-judy"}); err != nil {
			t.Errorf("same name, another user: %v", err)
		}

		tok, owner, err := s.UserByTokenHash(ctx, "hash-ci")
		if err != nil {
			t.Fatalf("UserByTokenHash: %v", err)
		}
		ci.ExpiresAt = &[]time.Time{dbTime(future)}[0]
		if diff := cmp.Diff(ci, tok); diff != "" {
			t.Errorf("token (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(u, owner); diff != "" {
			t.Errorf("owner (-want +got):\n%s", diff)
		}
		for _, hash := range []string{"hash-old", "no-such-hash"} {
			if _, _, err := s.UserByTokenHash(ctx, hash); !errors.Is(err, ErrNotFound) {
				t.Errorf("UserByTokenHash(%s): got %v, want ErrNotFound", hash, err)
			}
		}

		used := time.Now()
		if err := s.TouchToken(ctx, cli.ID, used); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListTokens(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tok := range list {
			names = append(names, tok.Name)
		}
		if diff := cmp.Diff([]string{"ci", "cli", "old"}, names); diff != "" {
			t.Errorf("ListTokens order, newest first (-want +got):\n%s", diff)
		}
		if got := list[1].LastUsedAt; got == nil || !got.Equal(dbTime(used)) {
			t.Errorf("got last used %v, want %v", got, dbTime(used))
		}

		if err := s.DeleteToken(ctx, other.ID, cli.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting another user's token: got %v, want ErrNotFound", err)
		}
		if err := s.DeleteToken(ctx, u.ID, cli.ID); err != nil {
			t.Errorf("DeleteToken: %v", err)
		}
		if _, _, err := s.UserByTokenHash(ctx, "hash-cli"); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoked token: got %v, want ErrNotFound", err)
		}
		if err := s.TouchToken(ctx, cli.ID, used); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchToken of a revoked token: got %v, want ErrNotFound", err)
		}
	})
}

func TestSessions(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u := newUser(t, s, "kim")
		now := time.Now()
		anon := Session{ID: "anon", Data: []byte("flash"), ExpiresAt: now.Add(time.Hour)}
		if err := s.SaveSession(ctx, anon); err != nil {
			t.Fatal(err)
		}
		signedIn := anon
		signedIn.UserID, signedIn.Data, signedIn.ExpiresAt = &u.ID, []byte{0, 1, 2, 255}, now.Add(2*time.Hour)
		if err := s.SaveSession(ctx, signedIn); err != nil {
			t.Fatalf("SaveSession over an existing one: %v", err)
		}
		got, err := s.SessionByID(ctx, "anon")
		if err != nil {
			t.Fatal(err)
		}
		signedIn.ExpiresAt = dbTime(signedIn.ExpiresAt)
		if diff := cmp.Diff(signedIn, got); diff != "" {
			t.Errorf("SessionByID (-want +got):\n%s", diff)
		}

		// ExtendSession only ever pushes a live session's expiry out.
		for _, tt := range []struct {
			name  string
			until time.Time
			want  time.Time
		}{
			{"later", now.Add(3 * time.Hour), now.Add(3 * time.Hour)},
			{"earlier", now.Add(time.Minute), now.Add(3 * time.Hour)},
		} {
			if err := s.ExtendSession(ctx, "anon", tt.until); err != nil {
				t.Fatalf("ExtendSession %s: %v", tt.name, err)
			}
			if got, err := s.SessionByID(ctx, "anon"); err != nil || !got.ExpiresAt.Equal(dbTime(tt.want)) {
				t.Errorf("ExtendSession %s: got expiry %v (%v), want %v", tt.name, got.ExpiresAt, err, dbTime(tt.want))
			}
		}
		gone := Session{ID: "gone", ExpiresAt: now.Add(-time.Second)}
		if err := s.SaveSession(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := s.ExtendSession(ctx, "gone", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByID(ctx, "gone"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session after ExtendSession: got %v, want it to stay ended", err)
		}
		if err := s.DeleteSession(ctx, "gone"); err != nil {
			t.Fatal(err)
		}

		for _, sess := range []Session{
			{ID: "expired", UserID: &u.ID, ExpiresAt: now.Add(-time.Second)},
			{ID: "second", UserID: &u.ID, ExpiresAt: now.Add(time.Hour)},
			{ID: "empty", ExpiresAt: now.Add(time.Hour)},
		} {
			if err := s.SaveSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SessionByID(ctx, "expired"); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired session: got %v, want ErrNotFound", err)
		}
		if got, err := s.SessionByID(ctx, "empty"); err != nil || len(got.Data) != 0 || got.UserID != nil {
			t.Errorf("session without data: got %+v, %v", got, err)
		}
		if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions: got %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteUserSessions(ctx, u.ID); err != nil || n != 2 {
			t.Errorf("DeleteUserSessions: got %d, %v; want 2", n, err)
		}
		if err := s.DeleteSession(ctx, "empty"); err != nil {
			t.Errorf("DeleteSession: %v", err)
		}
		if err := s.DeleteSession(ctx, "empty"); err != nil {
			t.Errorf("DeleteSession twice: %v", err)
		}
		if got := count(t, s, "sessions"); got != 0 {
			t.Errorf("got %d sessions left, want 0", got)
		}
	})
}
