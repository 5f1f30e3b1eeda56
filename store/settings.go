package store

import (
	"context"
	"fmt"
)

// Setting returns the value stored under key, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	if err := s.reads.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", key, classify(err))
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set setting %s: %w", key, err)
	}
	return nil
}

// SettingOrCreate returns the value stored under key, storing newValue
// first if there is none. Concurrent callers, in this process or another,
// all get the value of whichever stored first.
func (s *Store) SettingOrCreate(ctx context.Context, key, newValue string) (string, error) {
	var v string
	// DO UPDATE with the unchanged value, rather than DO NOTHING, so that
	// RETURNING yields the winning row whichever statement inserted it.
	err := s.wdb.QueryRowContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = settings.value RETURNING value`, key, newValue).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", key, err)
	}
	return v, nil
}
