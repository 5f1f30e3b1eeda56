package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/zoe-analytics/zoe/store"
)

// AdminName is the username of the account created at the first start.
const AdminName = "admin"

// FirstStartStore is the part of the store EnsureAdmin needs.
type FirstStartStore interface {
	CountUsers(ctx context.Context) (int, error)
	CreateUser(ctx context.Context, u *store.User) (int64, error)
}

// EnsureAdmin creates the built-in admin account when there are no users
// at all, with password, or with a generated one that it returns so that
// it can be printed once. It returns "" when nothing was created or the
// password was given.
func EnsureAdmin(ctx context.Context, users FirstStartStore, password string) (generated string, err error) {
	return ensureAdmin(ctx, users, password, PasswordCost)
}

func ensureAdmin(ctx context.Context, users FirstStartStore, password string, cost int) (string, error) {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("first admin: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	generated := ""
	if password == "" {
		generated = randomString(12)
		password = generated
	}
	u := store.User{Username: AdminName, Role: string(RoleAdmin), Enabled: true}
	h, err := hashPassword(password, cost)
	if err != nil {
		return "", fmt.Errorf("admin-password: %w", err)
	}
	u.Source, u.PasswordHash = SourceBuiltin, h
	if _, err := users.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another instance starting at the same time made it
		}
		return "", fmt.Errorf("first admin: %w", err)
	}
	return generated, nil
}
