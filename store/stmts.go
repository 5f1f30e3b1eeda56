package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds the statement cache. The store's reads are a few
// dozen fixed strings; the bound only matters if a query's text ever came
// to depend on its input beyond the short IN lists it has today.
const maxCachedStmts = 256

// stmtCache runs reads through statements prepared once per query text.
// SQLite parses every statement it is given, and parsing was the largest
// share of the CPU a status fragment or a session load costs. A *sql.Stmt
// is safe for concurrent use and prepares itself again on each pooled
// connection that runs it, so one per query text is enough. PostgreSQL
// needs none of this: pgx keeps its own statement cache per connection.
type stmtCache struct {
	db    *sql.DB
	stmts sync.Map // query text → *sql.Stmt
	n     atomic.Int64
}

// stmt returns the prepared statement for query, preparing it at first
// use, or nil when the cache is full or the query cannot be prepared (the
// caller then runs it unprepared and gets the error there).
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if v, ok := c.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	if c.n.Load() >= maxCachedStmts {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if v, loaded := c.stmts.LoadOrStore(query, st); loaded {
		// Another request prepared it at the same time.
		st.Close()
		return v.(*sql.Stmt)
	}
	c.n.Add(1)
	return st
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// ExecContext is not cached: writes go to the write pool, not here.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, query, args...)
}

// close closes the prepared statements before their pool closes.
func (c *stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		c.stmts.Delete(k)
		return true
	})
	c.n.Store(0)
	return errors.Join(errs...)
}
