package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Token is a personal API token. Only the hash of its secret is kept.
type Token struct {
	ID         int64
	UserID     int64
	Name       string
	Hash       string // hex sha256 of the secret
	CreatedAt  time.Time
	LastUsedAt *time.Time
	ExpiresAt  *time.Time // nil: never
}

const tokenColumns = `t.id, t.user_id, t.name, t.hash, t.created_at, t.last_used_at, t.expires_at`

func scanToken(row scanner, extra ...any) (Token, error) {
	var (
		t                 Token
		lastUsed, expires sql.NullTime
	)
	dest := append([]any{&t.ID, &t.UserID, &t.Name, &t.Hash, &t.CreatedAt, &lastUsed, &expires}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Token{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.LastUsedAt = timePtr(lastUsed)
	t.ExpiresAt = timePtr(expires)
	return t, nil
}

// CreateToken adds t, fills in its ID (and CreatedAt when zero) and returns
// the ID. A name the user already uses is ErrConflict.
func (s *Store) CreateToken(ctx context.Context, t *Token) (int64, error) {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	t.CreatedAt = dbTime(t.CreatedAt)
	err := s.wdb.QueryRowContext(ctx, `INSERT INTO tokens (user_id, name, hash, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		t.UserID, t.Name, t.Hash, t.CreatedAt, nullTime(t.LastUsedAt), nullTime(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return 0, fmt.Errorf("create token %s: %w", t.Name, classify(err))
	}
	return t.ID, nil
}

// UserByTokenHash returns the token with that hash and its owner. An
// expired token is ErrNotFound. A disabled owner is returned as such: the
// caller decides what to say.
func (s *Store) UserByTokenHash(ctx context.Context, hash string) (Token, User, error) {
	var u userRow
	row := s.reads.QueryRowContext(ctx, `SELECT `+tokenColumns+`, `+userColumns+`
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)`, hash, dbTime(time.Now()))
	t, err := scanToken(row, u.dest()...)
	if err != nil {
		return Token{}, User{}, fmt.Errorf("token: %w", classify(err))
	}
	return t, u.user(), nil
}

// ListTokens returns a user's tokens, newest first.
func (s *Store) ListTokens(ctx context.Context, userID int64) ([]Token, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens t WHERE t.user_id = $1
		ORDER BY t.created_at DESC, t.id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens of user %d: %w", userID, err)
	}
	return ts, nil
}

// DeleteToken revokes the user's token id. Another user's token is
// ErrNotFound, like a missing one.
func (s *Store) DeleteToken(ctx context.Context, userID, id int64) error {
	res, err := s.wdb.ExecContext(ctx, `DELETE FROM tokens WHERE id = $1 AND user_id = $2`, id, userID)
	if err := rowChanged(res, err); err != nil {
		return fmt.Errorf("delete token %d: %w", id, err)
	}
	return nil
}

// TouchToken records that a token was used.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE tokens SET last_used_at = $2 WHERE id = $1`, id, dbTime(at))
	if err := rowChanged(res, err); err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	return nil
}
