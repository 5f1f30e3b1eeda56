package store

import (
	"context"
	"errors"
	"fmt"
)

// SetExecutionNetwork records name as the network of execution id. It is
// a compare-and-set on an empty column: a network, once recorded, stays
// the execution's for good, so that no other execution can be given it
// while anything of this one may still be on it. An execution with a
// network already is ErrConflict; a missing one is ErrNotFound.
func (s *Store) SetExecutionNetwork(ctx context.Context, id int64, name string) error {
	defer s.wroteExecution(id)
	res, err := s.wdb.ExecContext(ctx, `UPDATE executions SET network = $2 WHERE id = $1 AND network = ''`, id, name)
	if err = rowChanged(res, err); errors.Is(err, ErrNotFound) {
		var current string
		err = s.wdb.QueryRowContext(ctx, `SELECT network FROM executions WHERE id = $1`, id).Scan(&current)
		if err == nil {
			err = fmt.Errorf("%w: network is %s already", ErrConflict, current)
		} else {
			err = classify(err)
		}
	}
	if err != nil {
		return fmt.Errorf("set network of execution %d: %w", id, err)
	}
	return nil
}

// RecordedNetworks returns which of names some execution, active or
// ended, has recorded as its network. A pooled network none records was
// never given to an execution.
func (s *Store) RecordedNetworks(ctx context.Context, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	a := args{}
	rows, err := s.rdb.QueryContext(ctx, `SELECT DISTINCT network FROM executions WHERE network IN `+a.in(names), a...)
	if err != nil {
		return nil, fmt.Errorf("recorded networks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("recorded networks: %w", err)
		}
		out[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recorded networks: %w", err)
	}
	return out, nil
}
