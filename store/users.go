package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// User is a Zoe account. Role is "guest", "user" or "admin"; Source, the
// sign-in back-end, is "builtin", "text" or "ldap".
type User struct {
	ID           int64
	Username     string
	Role         string
	Source       string
	PasswordHash string
	Email        string
	FSUID        int
	// QuotaID is nil for users on the default quota.
	QuotaID     *int64
	Enabled     bool
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

const userColumns = `u.id, u.username, u.role, u.source, u.password_hash, u.email, u.fs_uid,
	u.quota_id, u.enabled, u.created_at, u.last_login_at`

type scanner interface{ Scan(dest ...any) error }

// userRow receives a user's columns, nullable ones included.
type userRow struct {
	u         User
	quotaID   sql.NullInt64
	lastLogin sql.NullTime
}

func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Username, &r.u.Role, &r.u.Source, &r.u.PasswordHash, &r.u.Email, &r.u.FSUID,
		&r.quotaID, &r.u.Enabled, &r.u.CreatedAt, &r.lastLogin}
}

func (r *userRow) user() User {
	u := r.u
	if r.quotaID.Valid {
		id := r.quotaID.Int64
		u.QuotaID = &id
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.LastLoginAt = timePtr(r.lastLogin)
	return u
}

func scanUser(row scanner) (User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return User{}, err
	}
	return r.user(), nil
}

func nullInt64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// CreateUser adds u, fills in its ID (and CreatedAt when zero) and returns
// the ID. A taken username is ErrConflict; an unknown quota is ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u *User) (int64, error) {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.CreatedAt = dbTime(u.CreatedAt)
	err := s.wdb.QueryRowContext(ctx, `INSERT INTO users
		(username, role, source, password_hash, email, fs_uid, quota_id, enabled, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		u.Username, u.Role, u.Source, u.PasswordHash, u.Email, u.FSUID, nullInt64(u.QuotaID), u.Enabled,
		u.CreatedAt, nullTime(u.LastLoginAt)).Scan(&u.ID)
	if err != nil {
		return 0, fmt.Errorf("create user %s: %w", u.Username, classify(err))
	}
	return u.ID, nil
}

// UserByID returns the user with that ID.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.reads.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, classify(err))
	}
	return u, nil
}

// UserByName returns the user with that username.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.reads.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.username = $1`, username))
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", username, classify(err))
	}
	return u, nil
}

// ListUsers returns every user, by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// CountUsers returns how many users there are (zero on first start).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.reads.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// UpdateUser saves everything about u but its username, creation and last
// login times, which never change this way.
func (s *Store) UpdateUser(ctx context.Context, u User) error {
	defer s.wroteLimits()
	res, err := s.wdb.ExecContext(ctx, `UPDATE users SET role = $2, source = $3, password_hash = $4, email = $5,
		fs_uid = $6, quota_id = $7, enabled = $8 WHERE id = $1`,
		u.ID, u.Role, u.Source, u.PasswordHash, u.Email, u.FSUID, nullInt64(u.QuotaID), u.Enabled)
	if err := rowChanged(res, err); err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	return nil
}

// TouchLogin records a successful sign-in.
func (s *Store) TouchLogin(ctx context.Context, userID int64, at time.Time) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE users SET last_login_at = $2 WHERE id = $1`, userID, dbTime(at))
	if err := rowChanged(res, err); err != nil {
		return fmt.Errorf("touch login of user %d: %w", userID, err)
	}
	return nil
}

// DeleteUser removes a user with their tokens, sessions and past
// executions. A user with active executions is ErrConflict: their
// containers must be terminated first.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	defer s.wroteLimits()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var active int
		a := args{id}
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM executions WHERE user_id = $1 AND status IN `+a.in(ActiveStatuses()), a...).Scan(&active)
		if err != nil {
			return err
		}
		if active > 0 {
			return fmt.Errorf("%w: %d active executions", ErrConflict, active)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
		return rowChanged(res, err)
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// rowChanged turns "no row matched" into ErrNotFound.
func rowChanged(res sql.Result, err error) error {
	if err != nil {
		return classify(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
