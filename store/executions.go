package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Execution states, as in the original Zoe (§3.1 of the reference).
const (
	StatusSubmitted  = "submitted"
	StatusQueued     = "queued"
	StatusStarting   = "starting"
	StatusRunning    = "running"
	StatusCleaningUp = "cleaning up"
	StatusTerminated = "terminated"
	StatusError      = "error"
)

// ActiveStatuses returns the states in which an execution holds, or is
// about to hold, resources.
func ActiveStatuses() []string {
	return []string{StatusSubmitted, StatusQueued, StatusStarting, StatusRunning, StatusCleaningUp}
}

// IsActive reports whether status is one of ActiveStatuses.
func IsActive(status string) bool {
	return slices.Contains(ActiveStatuses(), status)
}

// IsEnded reports whether status is final.
func IsEnded(status string) bool {
	return status == StatusTerminated || status == StatusError
}

// Execution is one run of a ZApp.
type Execution struct {
	ID           int64
	Name         string
	UserID       int64
	Username     string // the owner's, read-only
	ZappID       string
	Description  []byte // canonical ZApp JSON
	Status       string
	ErrorMessage string
	Size         float64
	// Memory and MilliCores are the whole reservation, for quotas.
	Memory      int64
	MilliCores  int64
	SubmittedAt time.Time
	StartedAt   *time.Time
	EndedAt     *time.Time
	UpdatedAt   time.Time
	// IdleTimeout is the effective idle timeout recorded at submission
	// (0 never); nil for executions recorded before Zoe recorded it.
	IdleTimeout *time.Duration
	// Activity is the ZApp's activity URLs as JSON, nil for none; the
	// lifecycle reads it.
	Activity []byte
	// LastActiveAt is the latest use known besides proxy traffic: an
	// extension, or activity a service reported.
	LastActiveAt *time.Time
	// Network is the network claimed for the execution from the pool of
	// ready networks; empty means the name derived from its ID (or the
	// shared network, when its services span hosts).
	Network string
	// Services is filled only by ActiveExecutions; use ExecutionServices
	// otherwise.
	Services []Service
}

// Event is a line in an execution's history.
type Event struct {
	ID          int64
	ExecutionID int64
	At          time.Time
	Kind        string
	Message     string
}

// ExecutionFilter selects executions for ListExecutions. Zero values match
// everything.
type ExecutionFilter struct {
	UserID   int64
	Statuses []string
	ZappID   string
	Since    time.Time // submitted at or after
	Limit    int
	Offset   int
}

const executionColumns = `e.id, e.name, e.user_id, u.username, e.zapp_id, e.description, e.status, e.error_message,
	e.size, e.memory, e.milli_cores, e.submitted_at, e.started_at, e.ended_at, e.updated_at,
	e.idle_timeout_seconds, e.activity, e.last_active_at, e.network`

const executionFrom = ` FROM executions e JOIN users u ON u.id = e.user_id`

func scanExecution(row scanner) (Execution, error) {
	var (
		e                    Execution
		started, end, active sql.NullTime
		idle                 sql.NullInt64
	)
	err := row.Scan(&e.ID, &e.Name, &e.UserID, &e.Username, &e.ZappID, &e.Description, &e.Status, &e.ErrorMessage,
		&e.Size, &e.Memory, &e.MilliCores, &e.SubmittedAt, &started, &end, &e.UpdatedAt,
		&idle, &e.Activity, &active, &e.Network)
	if err != nil {
		return Execution{}, err
	}
	if idle.Valid {
		d := time.Duration(idle.Int64) * time.Second
		e.IdleTimeout = &d
	}
	e.LastActiveAt = timePtr(active)
	e.SubmittedAt = e.SubmittedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	e.StartedAt = timePtr(started)
	e.EndedAt = timePtr(end)
	return e, nil
}

func scanExecutions(rows *sql.Rows) ([]Execution, error) {
	defer rows.Close()
	var es []Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// jsonOrEmpty keeps NOT NULL JSON columns valid when a caller has no
// description to give.
func jsonOrEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// CreateExecution records a new execution with its services and their
// ports, in one transaction. It fills in every ID (and SubmittedAt when
// zero; Status defaults to submitted) and returns the execution's ID.
func (s *Store) CreateExecution(ctx context.Context, e *Execution, services []Service) (int64, error) {
	return s.CreateExecutionWithQuota(ctx, e, services, nil)
}

// CreateExecutionWithQuota is CreateExecution with an admission check:
// inside the transaction, with the owner's row locked so that concurrent
// submissions by the same user run one after the other, it calls check
// with the owner's quota and current usage, and records nothing if check
// returns an error, which it returns as is (wrapped). This is what makes
// "two submissions racing for the last slot" admit exactly one.
func (s *Store) CreateExecutionWithQuota(ctx context.Context, e *Execution, services []Service, check func(Quota, Usage) error) (int64, error) {
	if e.SubmittedAt.IsZero() {
		e.SubmittedAt = time.Now()
	}
	e.SubmittedAt = dbTime(e.SubmittedAt)
	e.UpdatedAt = e.SubmittedAt
	if e.Status == "" {
		e.Status = StatusSubmitted
	}
	e.Description = jsonOrEmpty(e.Description)
	defer func() { s.wroteExecution(e.ID) }()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if check != nil {
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1`+s.d.forUpdate, e.UserID).Scan(&id)
			if err != nil {
				return fmt.Errorf("user %d: %w", e.UserID, classify(err))
			}
			q, err := quotaForUser(ctx, tx, e.UserID)
			if err != nil {
				return err
			}
			u, err := usageByUser(ctx, tx, e.UserID)
			if err != nil {
				return err
			}
			if err := check(q, u); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO executions
			(name, user_id, zapp_id, description, status, error_message, size, memory, milli_cores,
			 submitted_at, started_at, ended_at, updated_at, idle_timeout_seconds, activity, last_active_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
			e.Name, e.UserID, e.ZappID, e.Description, e.Status, e.ErrorMessage, e.Size, e.Memory, e.MilliCores,
			e.SubmittedAt, nullTime(e.StartedAt), nullTime(e.EndedAt), e.UpdatedAt,
			nullSeconds(e.IdleTimeout), nullJSON(e.Activity), nullTime(e.LastActiveAt)).Scan(&e.ID)
		if err != nil {
			return classify(err)
		}
		for i := range services {
			if err := insertService(ctx, tx, e.ID, &services[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("create execution %s: %w", e.Name, err)
	}
	return e.ID, nil
}

// Execution returns the execution with that ID (without its services).
func (s *Store) Execution(ctx context.Context, id int64) (Execution, error) {
	e, err := scanExecution(s.reads.QueryRowContext(ctx, `SELECT `+executionColumns+executionFrom+` WHERE e.id = $1`, id))
	if err != nil {
		return Execution{}, fmt.Errorf("execution %d: %w", id, classify(err))
	}
	return e, nil
}

// ListExecutions returns a page of the executions f selects, newest first,
// and how many it selects in all.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) ([]Execution, int, error) {
	var (
		a     args
		where []string
	)
	if f.UserID != 0 {
		where = append(where, "e.user_id = "+a.add(f.UserID))
	}
	if len(f.Statuses) > 0 {
		where = append(where, "e.status IN "+a.in(f.Statuses))
	}
	if f.ZappID != "" {
		where = append(where, "e.zapp_id = "+a.add(f.ZappID))
	}
	if !f.Since.IsZero() {
		where = append(where, "e.submitted_at >= "+a.add(dbTime(f.Since)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.reads.QueryRowContext(ctx, `SELECT COUNT(*)`+executionFrom+cond, a...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list executions: %w", err)
	}
	page := " ORDER BY e.id DESC LIMIT " + a.add(limit(f.Limit)) + " OFFSET " + a.add(int64(max(f.Offset, 0)))
	rows, err := s.reads.QueryContext(ctx, `SELECT `+executionColumns+executionFrom+cond+page, a...)
	if err != nil {
		return nil, 0, fmt.Errorf("list executions: %w", err)
	}
	es, err := scanExecutions(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("list executions: %w", err)
	}
	return es, total, nil
}

// ActiveExecutions returns every active execution, oldest first, with its
// services and their ports: the scheduler's queue and what restart
// reconciliation compares with the engines.
func (s *Store) ActiveExecutions(ctx context.Context) ([]Execution, error) {
	a := args{}
	in := a.in(ActiveStatuses())
	rows, err := s.reads.QueryContext(ctx, `SELECT `+executionColumns+executionFrom+` WHERE e.status IN `+in+` ORDER BY e.id`, a...)
	if err != nil {
		return nil, fmt.Errorf("active executions: %w", err)
	}
	es, err := scanExecutions(rows)
	if err != nil {
		return nil, fmt.Errorf("active executions: %w", err)
	}
	if len(es) == 0 {
		return es, nil
	}
	services, err := s.services(ctx, `s.execution_id IN (SELECT id FROM executions WHERE status IN `+in+`)`, a...)
	if err != nil {
		return nil, fmt.Errorf("active executions: %w", err)
	}
	byExecution := make(map[int64][]Service)
	for _, sv := range services {
		byExecution[sv.ExecutionID] = append(byExecution[sv.ExecutionID], sv)
	}
	for i := range es {
		es[i].Services = byExecution[es[i].ID]
	}
	return es, nil
}

// CountExecutionsByStatus returns how many executions are in each state.
func (s *Store) CountExecutionsByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT status, COUNT(*) FROM executions GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count executions: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int)
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count executions: %w", err)
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count executions: %w", err)
	}
	return counts, nil
}

// SetExecutionStatus moves an execution to status to, but only if its
// status is one of from (any, when from is empty): a compare-and-set, so
// that two deciders cannot both make a transition. It records at as the
// start time when to is running and as the end time when to is terminated
// or error (and clears the end time when an execution goes back to an
// active state, as on a re-queue); msg, when not empty, replaces the error
// message. A status outside from is ErrConflict; a missing execution is
// ErrNotFound.
func (s *Store) SetExecutionStatus(ctx context.Context, id int64, from []string, to string, msg string, at time.Time) error {
	defer s.wroteExecution(id)
	a := args{id, to, dbTime(at)}
	set := []string{"status = $2", "updated_at = $3"}
	switch {
	case to == StatusRunning:
		set = append(set, "started_at = $3")
	case IsEnded(to):
		set = append(set, "ended_at = $3")
	}
	if IsActive(to) {
		set = append(set, "ended_at = NULL")
	}
	if msg != "" {
		set = append(set, "error_message = "+a.add(msg))
	}
	query := `UPDATE executions SET ` + strings.Join(set, ", ") + ` WHERE id = $1`
	if len(from) > 0 {
		query += ` AND status IN ` + a.in(from)
	}
	res, err := s.wdb.ExecContext(ctx, query, a...)
	if err = rowChanged(res, err); errors.Is(err, ErrNotFound) {
		var current string
		err = s.wdb.QueryRowContext(ctx, `SELECT status FROM executions WHERE id = $1`, id).Scan(&current)
		if err == nil {
			err = fmt.Errorf("%w: status is %s, not %s", ErrConflict, current, strings.Join(from, " or "))
		} else {
			err = classify(err)
		}
	}
	if err != nil {
		return fmt.Errorf("set execution %d %s: %w", id, to, err)
	}
	return nil
}

// DeleteExecution removes an ended execution with its services, ports and
// events. An active execution is ErrConflict.
func (s *Store) DeleteExecution(ctx context.Context, id int64) error {
	defer s.wroteExecution(id)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM executions WHERE id = $1`, id).Scan(&status); err != nil {
			return classify(err)
		}
		if !IsEnded(status) {
			return fmt.Errorf("%w: execution is %s", ErrConflict, status)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM executions WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete execution %d: %w", id, err)
	}
	return nil
}

// AddEvent appends to an execution's history.
func (s *Store) AddEvent(ctx context.Context, ev Event) error {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO events (execution_id, at, kind, message) VALUES ($1, $2, $3, $4)`,
		ev.ExecutionID, dbTime(ev.At), ev.Kind, ev.Message)
	if err != nil {
		return fmt.Errorf("add event to execution %d: %w", ev.ExecutionID, classify(err))
	}
	return nil
}

// Events returns an execution's history, oldest first.
func (s *Store) Events(ctx context.Context, executionID int64) ([]Event, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id, execution_id, at, kind, message FROM events
		WHERE execution_id = $1 ORDER BY at, id`, executionID)
	if err != nil {
		return nil, fmt.Errorf("events of execution %d: %w", executionID, err)
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var ev Event
		if err := rows.Scan(&ev.ID, &ev.ExecutionID, &ev.At, &ev.Kind, &ev.Message); err != nil {
			return nil, fmt.Errorf("events of execution %d: %w", executionID, err)
		}
		ev.At = ev.At.UTC()
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of execution %d: %w", executionID, err)
	}
	return evs, nil
}
