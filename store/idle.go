package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MarkExecutionActive records that running execution id was in use at at
// (its owner extended it, or a service reported activity). An earlier time
// than the one recorded changes nothing. An execution that is not running
// is ErrConflict.
func (s *Store) MarkExecutionActive(ctx context.Context, id int64, at time.Time) error {
	defer s.wroteExecution(id)
	res, err := s.wdb.ExecContext(ctx, `UPDATE executions
		SET last_active_at = CASE WHEN last_active_at IS NULL OR last_active_at < $2 THEN $2 ELSE last_active_at END
		WHERE id = $1 AND status = $3`, id, dbTime(at), StatusRunning)
	if err := rowChanged(res, err); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = ErrConflict
		}
		return fmt.Errorf("mark execution %d active: %w", id, err)
	}
	return nil
}

// nullSeconds binds an optional duration as whole seconds.
func nullSeconds(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return int64(*d / time.Second)
}

// nullJSON binds optional JSON: empty is NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
