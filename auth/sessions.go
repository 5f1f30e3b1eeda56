package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/zoe-analytics/zoe/store"
)

// SessionUsers is the part of the store the session manager needs.
type SessionUsers interface {
	SessionRows
	DeleteUserSessions(ctx context.Context, userID int64) (int64, error)
	UserByID(ctx context.Context, id int64) (store.User, error)
}

// SessionConfig configures Sessions; zero fields take the defaults.
type SessionConfig struct {
	// Secret signs the cookies (see CookieSecret). Required.
	Secret []byte
	// Secure is the secure-cookies option: "auto" (default), "always" or
	// "never".
	Secure string
	// IdleTimeout ends a session nobody used for this long (default 12 h).
	IdleTimeout time.Duration
	// CookieName names the session cookie (default "zoe_session"); the
	// CSRF cookie of visitors not signed in is CookieName+"_csrf".
	CookieName string
	// TrustedOrigins are origins (scheme://host[:port]) besides the
	// request's own host that may send unsafe requests, such as the
	// public-url when a proxy rewrites Host.
	TrustedOrigins []string
	// OnError writes the response when the session table cannot be read;
	// nil answers 500.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// Cache remembers resolved sessions briefly (see SessionCache). The
	// session managers of one process should share one; nil gives this
	// manager a cache of its own.
	Cache *SessionCache
}

// Sessions manages sign-in sessions and their CSRF tokens.
type Sessions struct {
	store   *SessionStore
	users   SessionUsers
	name    string
	csrf    *securecookie.SecureCookie
	origins map[string]bool
	idle    time.Duration
	onError func(w http.ResponseWriter, r *http.Request, err error)
	now     func() time.Time
}

// NewSessions returns the session manager.
func NewSessions(users SessionUsers, cfg SessionConfig) (*Sessions, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("sessions: secret must be at least 16 bytes")
	}
	switch cfg.Secure {
	case "":
		cfg.Secure = "auto"
	case "auto", "always", "never":
	default:
		return nil, fmt.Errorf("secure-cookies %q: must be auto, always or never", cfg.Secure)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 12 * time.Hour
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "zoe_session"
	}
	if cfg.OnError == nil {
		cfg.OnError = func(w http.ResponseWriter, _ *http.Request, err error) {
			if store.IsUnavailable(err) {
				w.Header().Set("Retry-After", "5")
				http.Error(w, "the database is unavailable; try again in a moment", http.StatusServiceUnavailable)
				return
			}
			http.Error(w, "sessions are unavailable", http.StatusInternalServerError)
		}
	}
	s := &Sessions{
		store:   NewSessionStore(users, cfg.Secret, cfg.IdleTimeout, cfg.Secure),
		users:   users,
		name:    cfg.CookieName,
		csrf:    newCodec(cfg.Secret, "zoe csrf cookie", cfg.IdleTimeout),
		origins: make(map[string]bool),
		idle:    cfg.IdleTimeout,
		onError: cfg.OnError,
		now:     time.Now,
	}
	if cfg.Cache != nil {
		s.store.cache = cfg.Cache
	}
	for _, o := range cfg.TrustedOrigins {
		s.origins[normalizeOrigin(o)] = true
	}
	return s, nil
}

// Cache is the session cache the manager uses (SessionConfig.Cache).
func (s *Sessions) Cache() *SessionCache { return s.store.cache }

// Store is the gorilla/sessions Store behind the manager, for handlers that
// keep values of their own (flash messages) in the session.
func (s *Sessions) Store() *SessionStore { return s.store }

// requestState is what Middleware learns about a request once.
type requestState struct {
	sess *sessions.Session
	user *store.User
	csrf string
}

type stateKey struct{}

// load returns the request's session state: from the context when
// Middleware already loaded it, from the cache when the same cookie was
// resolved less than a second ago, else from the store.
func (s *Sessions) load(r *http.Request) (*requestState, error) {
	if st, ok := r.Context().Value(stateKey{}).(*requestState); ok {
		return st, nil
	}
	cache := s.store.cache
	var key cacheKey
	if c, err := r.Cookie(s.name); err == nil && c.Value != "" {
		key = cacheKey{name: s.name, value: c.Value}
		if e, ok := cache.get(key, s.now()); ok {
			return e.state(s.store, s.name), nil
		}
	}
	gen := cache.generation()
	sess, err := s.store.Get(r, s.name)
	if err != nil {
		return nil, err
	}
	st := &requestState{sess: sess}
	if uid, ok := sess.Values[keyUserID].(int64); ok {
		u, err := s.users.UserByID(r.Context(), uid)
		switch {
		case err == nil:
			if u.Enabled {
				st.user = &u
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("session user: %w", err)
		}
		if parent, ok := sess.Values[keyParent].(string); ok && st.user != nil {
			// Signing out of the session this one came from ends it too.
			switch _, err := s.store.rows.SessionByID(r.Context(), parent); {
			case errors.Is(err, store.ErrNotFound):
				st.user = nil
			case err != nil:
				return nil, fmt.Errorf("parent session: %w", err)
			}
		}
		if st.user != nil {
			st.csrf, _ = sess.Values[keyCSRF].(string)
			if key.value != "" && !sess.IsNew {
				cache.put(key, &cachedSession{id: sess.ID, values: maps.Clone(sess.Values), user: u}, gen, s.now())
			}
		}
		return st, nil
	}
	if c, err := r.Cookie(s.csrfCookieName()); err == nil {
		var tok string
		if s.csrf.Decode(s.csrfCookieName(), c.Value, &tok) == nil {
			st.csrf = tok
		}
	}
	return st, nil
}

func (s *Sessions) csrfCookieName() string { return s.name + "_csrf" }

// Middleware loads the session of every request: it puts the signed-in
// user in the context (FromContext), extends sessions in use, ends the
// session of a user who was disabled or deleted, and gives visitors who
// are not signed in a CSRF token of their own (for the sign-in form).
func (s *Sessions) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.load(r)
		if err != nil {
			s.onError(w, r, err)
			return
		}
		_, hadUser := st.sess.Values[keyUserID]
		switch {
		case st.user != nil:
			saved, _ := st.sess.Values[keySaved].(int64)
			if s.now().Sub(time.Unix(saved, 0)) >= s.refreshEvery() {
				if err := st.sess.Save(r, w); err != nil {
					s.onError(w, r, err)
					return
				}
				// Use of a session counts as use of its parent: a user
				// working in a service all day stays signed in.
				if parent, ok := st.sess.Values[keyParent].(string); ok {
					if err := s.store.rows.ExtendSession(r.Context(), parent, s.now().Add(s.idle).UTC()); err != nil {
						s.onError(w, r, err)
						return
					}
				}
			}
		case hadUser:
			st.sess.Options.MaxAge = -1
			if err := st.sess.Save(r, w); err != nil {
				s.onError(w, r, err)
				return
			}
			st.sess = sessions.NewSession(s.store, s.name)
		}
		if st.user == nil && st.csrf == "" {
			st.csrf = randomString(32)
			if err := s.setCSRFCookie(w, r, st.csrf); err != nil {
				s.onError(w, r, err)
				return
			}
		}
		ctx := context.WithValue(WithUser(r.Context(), st.user), stateKey{}, st)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refreshEvery is how often a session in use is saved again to push its
// expiry back: often enough to keep active users in, rarely enough not to
// write on every request.
func (s *Sessions) refreshEvery() time.Duration {
	return max(time.Minute, s.idle/24)
}

func (s *Sessions) setCSRFCookie(w http.ResponseWriter, r *http.Request, tok string) error {
	opts := s.cookieOptions(r)
	if tok == "" {
		opts.MaxAge = -1
	} else {
		opts.MaxAge = 0 // until the browser closes; the codec bounds its age
		v, err := s.csrf.Encode(s.csrfCookieName(), tok)
		if err != nil {
			return fmt.Errorf("encode csrf cookie: %w", err)
		}
		tok = v
	}
	http.SetCookie(w, sessions.NewCookie(s.csrfCookieName(), tok, opts))
	return nil
}

func (s *Sessions) cookieOptions(r *http.Request) *sessions.Options {
	opts := *s.store.Options
	opts.Secure = s.store.isSecure(r)
	return &opts
}

// Current returns the signed-in user, or nil if nobody is signed in. It is
// at most a second old (see SessionCache): a user disabled by this process
// is out at once, by another process within a second.
func (s *Sessions) Current(r *http.Request) (*store.User, error) {
	st, err := s.load(r)
	if err != nil {
		return nil, err
	}
	return st.user, nil
}

// Login starts a session for u. Whatever session the request had is
// deleted and a new ID is issued, so that an ID planted before sign-in
// (session fixation) is worth nothing after it.
func (s *Sessions) Login(w http.ResponseWriter, r *http.Request, u store.User) error {
	return s.login(w, r, u, "")
}

// Handle names the request's session for LoginUnder; "" when it has none.
// It is not the session's ID (which the cookie carries) and cannot be
// turned into a cookie.
func (s *Sessions) Handle(r *http.Request) string {
	st, err := s.load(r)
	if err != nil || st.user == nil || st.sess.ID == "" {
		return ""
	}
	return rowID(st.sess.ID)
}

// LoginUnder starts a session for u that lasts only as long as the
// session named by parent (from Handle, usually of another Sessions on the
// same store): the proxy origin's session of a portal user ends when they
// sign out of the portal. Using it keeps the parent alive.
func (s *Sessions) LoginUnder(w http.ResponseWriter, r *http.Request, u store.User, parent string) error {
	if parent == "" {
		return errors.New("login: no parent session")
	}
	return s.login(w, r, u, parent)
}

func (s *Sessions) login(w http.ResponseWriter, r *http.Request, u store.User, parent string) error {
	sess, err := s.store.Get(r, s.name)
	if err != nil {
		sess = sessions.NewSession(s.store, s.name)
	}
	if sess.ID != "" {
		if err := s.store.deleteRow(r.Context(), sess.ID); err != nil {
			return fmt.Errorf("login: %w", err)
		}
	}
	opts := *s.store.Options
	sess.ID, sess.IsNew, sess.Options = "", true, &opts
	tok := randomString(32)
	sess.Values = map[any]any{keyUserID: u.ID, keyCSRF: tok}
	if parent != "" {
		sess.Values[keyParent] = parent
	}
	if err := s.store.Save(r, w, sess); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if err := s.setCSRFCookie(w, r, ""); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if st, ok := r.Context().Value(stateKey{}).(*requestState); ok {
		st.sess, st.user, st.csrf = sess, &u, tok
	}
	return nil
}

// Logout ends the request's session: the row is deleted, so the old cookie
// no longer signs anyone in even if it was copied.
func (s *Sessions) Logout(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.store.Get(r, s.name)
	if err != nil {
		sess = sessions.NewSession(s.store, s.name)
	}
	opts := *s.store.Options
	opts.MaxAge = -1
	sess.Options = &opts
	if err := s.store.Save(r, w, sess); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if st, ok := r.Context().Value(stateKey{}).(*requestState); ok {
		st.user, st.csrf = nil, ""
	}
	return nil
}

// EndUserSessions signs userID out everywhere: after a password reset, a
// role change or disabling the account.
func (s *Sessions) EndUserSessions(ctx context.Context, userID int64) error {
	_, err := s.users.DeleteUserSessions(ctx, userID)
	s.store.cache.dropUser(userID)
	if err != nil {
		return fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	return nil
}

// ForgetUser drops what the session cache holds about a user, so that a
// change to the account (role, quota, e-mail, deletion) holds for the
// next request of this process. Call it after changing or deleting a user.
func (s *Sessions) ForgetUser(userID int64) {
	s.store.cache.dropUser(userID)
}
