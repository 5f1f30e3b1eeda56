package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// Refusals of AuthenticateRequest beyond those of sign-in.
var (
	// ErrNoCredentials: the request carries no Authorization header (401).
	ErrNoCredentials = errors.New("authentication required")
	// ErrBadToken: an unknown, revoked or expired API token (401).
	ErrBadToken = errors.New("invalid or expired API token")
	// ErrNoAPIAccess: the user's role may not use the API (403); guests
	// never may, whatever they present.
	ErrNoAPIAccess = errors.New("this account may not use the API")
)

// GateStore is the part of the store a Gate needs.
type GateStore interface {
	UserByName(ctx context.Context, username string) (store.User, error)
	CreateUser(ctx context.Context, u *store.User) (int64, error)
	UpdateUser(ctx context.Context, u store.User) error
	TouchLogin(ctx context.Context, userID int64, at time.Time) error
	UserByTokenHash(ctx context.Context, hash string) (store.Token, store.User, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// Gate turns credentials into a stored user: it throttles, asks the
// configured sign-in back-end, keeps the user row of external accounts in
// step with the back-end, and authenticates API requests.
type Gate struct {
	users    GateStore
	auth     Authenticator
	source   string
	builtin  *Builtin
	throttle *Throttle
	log      *slog.Logger
	now      func() time.Time
}

// NewGate returns a Gate over the back-end a (a *Builtin, *TextFile or
// *LDAP). Accounts created in Zoe itself (source builtin, such as the first
// admin) always sign in with their Zoe password, whatever a is, so that
// the directory cannot take over an existing local account by name.
func NewGate(users GateStore, a Authenticator, throttle *Throttle, log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if throttle == nil {
		throttle = NewThrottle(ThrottleConfig{})
	}
	source := SourceBuiltin
	switch a.(type) {
	case *TextFile:
		source = SourceText
	case *LDAP:
		source = SourceLDAP
	}
	return &Gate{users: users, auth: a, source: source, builtin: NewBuiltin(users),
		throttle: throttle, log: log, now: time.Now}
}

// SignIn checks username and password from clientIP and returns the user.
// Refusals are ErrBadCredentials, *ThrottleError (ErrThrottled),
// ErrDisabled, ErrNoRole, or another error when a back-end failed (also a
// refusal, to be logged as a server error).
func (g *Gate) SignIn(ctx context.Context, username, password, clientIP string) (store.User, error) {
	if err := g.throttle.Allow(username, clientIP); err != nil {
		return store.User{}, err
	}
	row, err := g.users.UserByName(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		row = store.User{}
	case err != nil:
		return store.User{}, fmt.Errorf("sign in %s: %w", username, err)
	}

	var id Identity
	if row.ID != 0 && row.Source == SourceBuiltin || g.source == SourceBuiltin {
		id, err = g.builtin.Authenticate(ctx, username, password)
	} else {
		id, err = g.auth.Authenticate(ctx, username, password)
	}
	if errors.Is(err, ErrBadCredentials) {
		g.throttle.Failure(username, clientIP)
		return store.User{}, ErrBadCredentials
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sign in %s: %w", username, err)
	}

	u, err := g.sync(ctx, username, row, id)
	if errors.Is(err, ErrBadCredentials) {
		g.throttle.Failure(username, clientIP)
		return store.User{}, err
	}
	if err != nil {
		return store.User{}, err
	}
	if !u.Enabled {
		return store.User{}, ErrDisabled
	}
	g.throttle.Success(username, clientIP)
	now := g.now().UTC()
	if err := g.users.TouchLogin(ctx, u.ID, now); err != nil {
		g.log.Warn("record sign-in time", "user", u.Username, "err", err)
	} else {
		u.LastLoginAt = &now
	}
	return u, nil
}

// sync creates or updates the row of an account accepted by an external
// back-end: the back-end is the source of truth for its role and e-mail.
// Zoe keeps the rest (quota, enabled, uid).
func (g *Gate) sync(ctx context.Context, username string, row store.User, id Identity) (store.User, error) {
	if row.ID != 0 && row.Source == SourceBuiltin {
		return row, nil
	}
	if id.Username == "" {
		id.Username = username
	}
	if row.ID == 0 && id.Username != username {
		// The back-end may spell the name differently (LDAP matches uid
		// without regard to case): its spelling names the row.
		r, err := g.users.UserByName(ctx, id.Username)
		switch {
		case err == nil && r.Source == SourceBuiltin:
			// A local account, reached through another spelling: the
			// directory must not take it over.
			return store.User{}, ErrBadCredentials
		case err == nil:
			row = r
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, fmt.Errorf("sign in %s: %w", id.Username, err)
		}
	}
	if row.ID == 0 {
		u := store.User{Username: id.Username, Role: string(id.Role), Source: g.source, Email: id.Email,
			FSUID: id.FSUID, Enabled: true}
		if _, err := g.users.CreateUser(ctx, &u); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				return store.User{}, fmt.Errorf("sign in %s: %w", id.Username, err)
			}
			// A concurrent first sign-in created it: use that row.
			if u, err = g.users.UserByName(ctx, id.Username); err != nil {
				return store.User{}, fmt.Errorf("sign in %s: %w", id.Username, err)
			}
		}
		return u, nil
	}
	changed := false
	set := func(field *string, v string) {
		if v != "" && *field != v {
			*field, changed = v, true
		}
	}
	set(&row.Role, string(id.Role))
	set(&row.Source, g.source)
	set(&row.Email, id.Email)
	if row.FSUID == 0 && id.FSUID != 0 {
		row.FSUID, changed = id.FSUID, true
	}
	if changed {
		if err := g.users.UpdateUser(ctx, row); err != nil {
			return store.User{}, fmt.Errorf("sign in %s: %w", row.Username, err)
		}
	}
	return row, nil
}

// AuthenticateRequest authenticates a JSON API request by its
// Authorization header: "Bearer zoe_…" (an API token) or HTTP Basic (a
// username and password, checked and throttled like a sign-in). Cookies
// are not looked at. Besides the sign-in refusals it returns
// ErrNoCredentials, ErrBadToken and ErrNoAPIAccess.
func (g *Gate) AuthenticateRequest(r *http.Request) (*store.User, error) {
	ctx := r.Context()
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	var u store.User
	switch {
	case h == "":
		return nil, ErrNoCredentials
	case strings.EqualFold(scheme, "Bearer"):
		if !looksLikeToken(value) {
			return nil, ErrBadToken
		}
		tok, user, err := g.users.UserByTokenHash(ctx, HashToken(value))
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrBadToken
		}
		if err != nil {
			return nil, fmt.Errorf("authenticate token: %w", err)
		}
		if err := g.users.TouchToken(ctx, tok.ID, g.now().UTC()); err != nil {
			g.log.Warn("record token use", "user", user.Username, "token", tok.Name, "err", err)
		}
		u = user
	case strings.EqualFold(scheme, "Basic"):
		// r.BasicAuth splits at the first colon, so passwords may hold
		// colons (the original split at two).
		name, pw, ok := r.BasicAuth()
		if !ok {
			return nil, ErrBadCredentials
		}
		var err error
		if u, err = g.SignIn(ctx, name, pw, ClientIP(r)); err != nil {
			return nil, err
		}
	default:
		return nil, ErrNoCredentials
	}
	if !u.Enabled {
		return nil, ErrDisabled
	}
	if !Can(Role(u.Role), AccessAPI) {
		return nil, ErrNoAPIAccess
	}
	return &u, nil
}

// ClientIP is the address of the client for throttling: the host part of
// RemoteAddr (which a trusted reverse-proxy middleware may have rewritten).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
