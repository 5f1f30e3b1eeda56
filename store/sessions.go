package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Session is a server-side web session; the cookie holds only its ID.
type Session struct {
	ID        string
	UserID    *int64 // nil before sign-in
	Data      []byte
	ExpiresAt time.Time
}

// SaveSession creates or replaces a session.
func (s *Store) SaveSession(ctx context.Context, sess Session) error {
	data := sess.Data
	if data == nil {
		data = []byte{}
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO sessions (id, user_id, data, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at`,
		sess.ID, nullInt64(sess.UserID), data, dbTime(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("save session: %w", classify(err))
	}
	return nil
}

// SessionByID returns a live session; an expired one is ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var (
		sess   Session
		userID sql.NullInt64
	)
	err := s.reads.QueryRowContext(ctx, `SELECT id, user_id, data, expires_at FROM sessions
		WHERE id = $1 AND expires_at > $2`, id, dbTime(time.Now())).Scan(&sess.ID, &userID, &sess.Data, &sess.ExpiresAt)
	if err != nil {
		// The ID is a secret: keep it out of the message.
		return Session{}, fmt.Errorf("session: %w", classify(err))
	}
	if userID.Valid {
		sess.UserID = &userID.Int64
	}
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	return sess, nil
}

// ExtendSession pushes a live session's expiry out to until; it never
// brings it nearer, and an expired or missing session stays ended.
func (s *Store) ExtendSession(ctx context.Context, id string, until time.Time) error {
	_, err := s.wdb.ExecContext(ctx, `UPDATE sessions SET expires_at = $1 WHERE id = $2 AND expires_at > $3 AND expires_at < $1`,
		dbTime(until), id, dbTime(time.Now()))
	if err != nil {
		return fmt.Errorf("extend session: %w", classify(err))
	}
	return nil
}

// DeleteSession ends a session. Ending a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int64, error) {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return res.RowsAffected()
}

// DeleteExpiredSessions removes sessions that expired before now and
// returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}
