package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/zoe-analytics/zoe/store"
)

// Sign-in refusals. Every error from an Authenticator is a refusal; these
// say why, so that the portal can tell a wrong password from a directory
// that is down.
var (
	// ErrBadCredentials: unknown user or wrong password. The only refusal
	// that counts towards login throttling.
	ErrBadCredentials = errors.New("invalid username or password")
	// ErrNoRole: the password was right but the back-end gives the account
	// no Zoe role (an LDAP user in none of the configured groups).
	ErrNoRole = errors.New("account has no role in zoe")
	// ErrDisabled: an administrator disabled the account.
	ErrDisabled = errors.New("account disabled by an administrator")
)

// The values of store.User.Source.
const (
	SourceBuiltin = "builtin"
	SourceText    = "text"
	SourceLDAP    = "ldap"
)

// Identity is what a sign-in back-end knows about a user it accepted.
type Identity struct {
	Username string
	Role     Role
	Email    string
	// FSUID is the user's numeric id for workspace ownership when the
	// back-end knows it (LDAP uidNumber); 0 otherwise.
	FSUID int
}

// Authenticator checks a username and password. Implementations return
// ErrBadCredentials (possibly wrapped) for a wrong password or an unknown
// user, and never a nil error unless the password was checked and right.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// UserReader is the part of the store the built-in back-end reads.
type UserReader interface {
	UserByName(ctx context.Context, username string) (store.User, error)
}

// Builtin authenticates the accounts kept in the store with a password hash.
type Builtin struct {
	users UserReader
	dummy string // checked for unknown users; tests swap in a cheap one
}

// NewBuiltin returns the built-in back-end over users.
func NewBuiltin(users UserReader) *Builtin { return &Builtin{users: users, dummy: dummyHash} }

// dummyHash is checked against when the user does not exist, so that an
// unknown username costs as much time as a wrong password.
const dummyHash = "$2a$12$TI/Q5K8w4zjOG21fql7BkOBkcMKdiVGruog7I3BnH9E2f72gTPtaq"

// Authenticate implements Authenticator.
func (b *Builtin) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	if username == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	u, err := b.users.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		CheckPassword(b.dummy, password)
		return Identity{}, ErrBadCredentials
	}
	if err != nil {
		return Identity{}, fmt.Errorf("builtin sign-in: %w", err)
	}
	if u.Source != SourceBuiltin || u.PasswordHash == "" {
		CheckPassword(b.dummy, password)
		return Identity{}, ErrBadCredentials
	}
	if !CheckPassword(u.PasswordHash, password) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Username: u.Username, Role: Role(u.Role), Email: u.Email, FSUID: u.FSUID}, nil
}

// UserWriter is the part of the store that account helpers change.
type UserWriter interface {
	UserByID(ctx context.Context, id int64) (store.User, error)
	CreateUser(ctx context.Context, u *store.User) (int64, error)
	UpdateUser(ctx context.Context, u store.User) error
}

// CreateUser adds a built-in account with password hashed; u.Source is
// set to builtin and u.Role must be a valid role. u's ID is filled in.
func CreateUser(ctx context.Context, users UserWriter, u *store.User, password string) error {
	return createUser(ctx, users, u, password, PasswordCost)
}

func createUser(ctx context.Context, users UserWriter, u *store.User, password string, cost int) error {
	if _, err := ParseRole(u.Role); err != nil {
		return err
	}
	h, err := hashPassword(password, cost)
	if err != nil {
		return err
	}
	u.Source, u.PasswordHash = SourceBuiltin, h
	if _, err := users.CreateUser(ctx, u); err != nil {
		return err
	}
	return nil
}

// SetPassword gives the account userID a new password and makes it a
// built-in account (an administrator resetting the password of a user who
// used to come from LDAP takes it over). Callers should also end the user's
// sessions (Sessions.EndUserSessions) when someone else changed it.
func SetPassword(ctx context.Context, users UserWriter, userID int64, password string) error {
	return setPassword(ctx, users, userID, password, PasswordCost)
}

func setPassword(ctx context.Context, users UserWriter, userID int64, password string, cost int) error {
	h, err := hashPassword(password, cost)
	if err != nil {
		return err
	}
	u, err := users.UserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	u.Source, u.PasswordHash = SourceBuiltin, h
	if err := users.UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}
