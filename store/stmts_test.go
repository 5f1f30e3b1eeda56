package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestStmtCache checks that SQLite reads reuse one prepared statement per
// query text, from many goroutines at once, see writes made since, stop
// caching at the bound, and still answer unprepared beyond it.
func TestStmtCache(t *testing.T) {
	s := openStore(t, "", t.TempDir())
	if s.stmts == nil {
		t.Fatal("got no statement cache on SQLite")
	}
	ctx := context.Background()
	u := newUser(t, s, "ada")

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 20 {
				got, err := s.UserByID(ctx, u.ID)
				if err != nil {
					errs <- err
					return
				}
				if got.Username != "ada" {
					errs <- fmt.Errorf("got user %q, want ada", got.Username)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	before := s.stmts.n.Load()
	if before < 1 {
		t.Fatalf("got %d cached statements after reads, want at least 1", before)
	}

	// A prepared read sees what was written after it was prepared.
	u.Email = "ada@example.org"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != u.Email {
		t.Errorf("got email %q after the update, want %q", got.Email, u.Email)
	}
	if n := s.stmts.n.Load(); n != before {
		t.Errorf("got %d cached statements after reading again, want still %d", n, before)
	}

	// Beyond the bound, queries run unprepared and are not kept.
	for i := s.stmts.n.Load(); i < maxCachedStmts; i++ {
		var n int
		if err := s.reads.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.reads.QueryRowContext(ctx, "SELECT 424242").Scan(&n); err != nil || n != 424242 {
		t.Fatalf("query beyond the bound: got %d, %v; want 424242, nil", n, err)
	}
	if got := s.stmts.n.Load(); got != maxCachedStmts {
		t.Errorf("got %d cached statements, want the bound %d", got, maxCachedStmts)
	}
	if _, ok := s.stmts.stmts.Load("SELECT 424242"); ok {
		t.Error("a query beyond the bound was cached")
	}

	// A query that cannot be prepared gets its error from the driver.
	if err := s.reads.QueryRowContext(ctx, "SELECT FROM nowhere").Scan(&n); err == nil {
		t.Error("got no error from a malformed query")
	}
}
