package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultQuota is the name of the quota every user without one of their
// own falls under. It cannot be renamed or deleted.
const DefaultQuota = "default"

// Quota limits what a user may run at once. Zero means unlimited.
type Quota struct {
	ID                   int64
	Name                 string
	ConcurrentExecutions int
	Memory               int64 // bytes
	MilliCores           int64
	RuntimeLimit         time.Duration
}

// Usage is what a user's active executions hold.
type Usage struct {
	Executions int
	Memory     int64 // bytes
	MilliCores int64
}

const quotaColumns = `q.id, q.name, q.concurrent_executions, q.memory, q.milli_cores, q.runtime_limit_seconds`

func scanQuota(row scanner) (Quota, error) {
	var (
		q       Quota
		seconds int64
	)
	if err := row.Scan(&q.ID, &q.Name, &q.ConcurrentExecutions, &q.Memory, &q.MilliCores, &seconds); err != nil {
		return Quota{}, err
	}
	q.RuntimeLimit = time.Duration(seconds) * time.Second
	return q, nil
}

// CreateQuota adds q, fills in its ID and returns it. A taken name is
// ErrConflict.
func (s *Store) CreateQuota(ctx context.Context, q *Quota) (int64, error) {
	defer s.wroteLimits()
	err := s.wdb.QueryRowContext(ctx, `INSERT INTO quotas
		(name, concurrent_executions, memory, milli_cores, runtime_limit_seconds)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		q.Name, q.ConcurrentExecutions, q.Memory, q.MilliCores, int64(q.RuntimeLimit/time.Second)).Scan(&q.ID)
	if err != nil {
		return 0, fmt.Errorf("create quota %s: %w", q.Name, classify(err))
	}
	return q.ID, nil
}

// QuotaByID returns the quota with that ID.
func (s *Store) QuotaByID(ctx context.Context, id int64) (Quota, error) {
	q, err := scanQuota(s.reads.QueryRowContext(ctx, `SELECT `+quotaColumns+` FROM quotas q WHERE q.id = $1`, id))
	if err != nil {
		return Quota{}, fmt.Errorf("quota %d: %w", id, classify(err))
	}
	return q, nil
}

// QuotaByName returns the quota with that name.
func (s *Store) QuotaByName(ctx context.Context, name string) (Quota, error) {
	q, err := scanQuota(s.reads.QueryRowContext(ctx, `SELECT `+quotaColumns+` FROM quotas q WHERE q.name = $1`, name))
	if err != nil {
		return Quota{}, fmt.Errorf("quota %s: %w", name, classify(err))
	}
	return q, nil
}

// ListQuotas returns every quota, by name.
func (s *Store) ListQuotas(ctx context.Context) ([]Quota, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+quotaColumns+` FROM quotas q ORDER BY q.name`)
	if err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	defer rows.Close()
	var qs []Quota
	for rows.Next() {
		q, err := scanQuota(rows)
		if err != nil {
			return nil, fmt.Errorf("list quotas: %w", err)
		}
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quotas: %w", err)
	}
	return qs, nil
}

// UpdateQuota saves q. Renaming the default quota, or taking a name in use,
// is ErrConflict.
func (s *Store) UpdateQuota(ctx context.Context, q Quota) error {
	defer s.wroteLimits()
	res, err := s.wdb.ExecContext(ctx, `UPDATE quotas SET name = $2, concurrent_executions = $3, memory = $4,
		milli_cores = $5, runtime_limit_seconds = $6
		WHERE id = $1 AND (name <> $7 OR name = $2)`,
		q.ID, q.Name, q.ConcurrentExecutions, q.Memory, q.MilliCores, int64(q.RuntimeLimit/time.Second), DefaultQuota)
	if err := rowChanged(res, err); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = s.defaultQuotaConflict(ctx, q.ID)
		}
		return fmt.Errorf("update quota %d: %w", q.ID, err)
	}
	return nil
}

// DeleteQuota removes a quota; its users fall back to the default one.
// Deleting the default quota is ErrConflict.
func (s *Store) DeleteQuota(ctx context.Context, id int64) error {
	defer s.wroteLimits()
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM quotas WHERE id = $1 AND name <> $2`, id, DefaultQuota)
	if err := rowChanged(res, err); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = s.defaultQuotaConflict(ctx, id)
		}
		return fmt.Errorf("delete quota %d: %w", id, err)
	}
	return nil
}

// defaultQuotaConflict tells apart, after a guarded write matched no row, a
// missing quota (ErrNotFound) from the protected default one (ErrConflict).
func (s *Store) defaultQuotaConflict(ctx context.Context, id int64) error {
	q, err := s.QuotaByID(ctx, id)
	if err != nil {
		return ErrNotFound
	}
	if q.Name == DefaultQuota {
		return fmt.Errorf("%w: the %s quota cannot be renamed or deleted", ErrConflict, DefaultQuota)
	}
	return ErrNotFound
}

// QuotaForUser returns the user's own quota, or the default one.
func (s *Store) QuotaForUser(ctx context.Context, userID int64) (Quota, error) {
	q, err := quotaForUser(ctx, s.reads, userID)
	if err != nil {
		return Quota{}, fmt.Errorf("quota for user %d: %w", userID, classify(err))
	}
	return q, nil
}

func quotaForUser(ctx context.Context, db querier, userID int64) (Quota, error) {
	return scanQuota(db.QueryRowContext(ctx, `SELECT `+quotaColumns+`
		FROM users u JOIN quotas q ON q.id = COALESCE(u.quota_id, (SELECT id FROM quotas WHERE name = $2))
		WHERE u.id = $1`, userID, DefaultQuota))
}

// UsageByUser sums the reservations of the user's active executions,
// including those being cleaned up: their containers still hold resources.
func (s *Store) UsageByUser(ctx context.Context, userID int64) (Usage, error) {
	u, err := usageByUser(ctx, s.reads, userID)
	if err != nil {
		return Usage{}, fmt.Errorf("usage of user %d: %w", userID, err)
	}
	return u, nil
}

func usageByUser(ctx context.Context, db querier, userID int64) (Usage, error) {
	var u Usage
	a := args{userID}
	err := db.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(memory), 0) AS BIGINT), CAST(COALESCE(SUM(milli_cores), 0) AS BIGINT)
		FROM executions WHERE user_id = $1 AND status IN `+a.in(ActiveStatuses()), a...).
		Scan(&u.Executions, &u.Memory, &u.MilliCores)
	return u, err
}
