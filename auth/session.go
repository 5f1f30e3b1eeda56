package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/zoe-analytics/zoe/store"
)

// SessionRows is the part of the store that keeps server-side sessions.
type SessionRows interface {
	SaveSession(ctx context.Context, s store.Session) error
	SessionByID(ctx context.Context, id string) (store.Session, error)
	ExtendSession(ctx context.Context, id string, until time.Time) error
	DeleteSession(ctx context.Context, id string) error
}

// The keys of the values Zoe keeps in a session.
const (
	keyUserID = "uid"
	keyCSRF   = "csrf"
	keySaved  = "saved" // unix seconds of the last save, to extend idle sessions
	// keyParent is the row of the session a session was opened from (the
	// portal's, for a session of the proxy origin): it ends with it.
	keyParent = "parent"
)

// SessionStore is a gorilla/sessions Store that keeps the session values in
// the store's sessions table and only a signed, random session ID in the
// cookie. Deleting the row ends the session for good, which a cookie-only
// session cannot do. The table holds a hash of each ID, so that a copy of
// the database does not give away live sessions.
type SessionStore struct {
	rows    SessionRows
	codecs  []securecookie.Codec
	Options *sessions.Options
	secure  string
	now     func() time.Time
	// cache is told about every session this store saves or deletes.
	cache *SessionCache
}

// NewSessionStore returns a SessionStore whose cookies are signed with a
// key derived from secret and last maxAge. secure is "auto" (Secure on
// requests that came over TLS), "always" or "never".
func NewSessionStore(rows SessionRows, secret []byte, maxAge time.Duration, secure string) *SessionStore {
	return &SessionStore{
		rows:   rows,
		codecs: []securecookie.Codec{newCodec(secret, "zoe session cookie", maxAge)},
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   int(maxAge / time.Second),
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		},
		secure: secure,
		now:    time.Now,
		cache:  NewSessionCache(),
	}
}

func newCodec(secret []byte, purpose string, maxAge time.Duration) *securecookie.SecureCookie {
	mac := hmac.New(sha512.New, secret)
	mac.Write([]byte(purpose))
	c := securecookie.New(mac.Sum(nil), nil)
	c.MaxAge(int(maxAge / time.Second))
	return c
}

// Get implements sessions.Store: the request's session, loaded once per
// request.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New implements sessions.Store. A missing, forged, expired or deleted
// session yields a new empty session and no error: the visitor is simply
// not signed in.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := *s.Options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.codecs...); err != nil || id == "" {
		return sess, nil
	}
	row, err := s.rows.SessionByID(r.Context(), rowID(id))
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, fmt.Errorf("load session: %w", err)
	}
	if !row.ExpiresAt.After(s.now()) {
		return sess, nil
	}
	values := make(map[any]any)
	if err := gob.NewDecoder(bytes.NewReader(row.Data)).Decode(&values); err != nil {
		return sess, nil
	}
	sess.ID, sess.Values, sess.IsNew = id, values, false
	return sess, nil
}

// Save implements sessions.Store: it writes the row and the cookie, or,
// when Options.MaxAge < 0, deletes both.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	sess.Options.Secure = s.isSecure(r)
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.deleteRow(r.Context(), sess.ID); err != nil {
				return fmt.Errorf("delete session: %w", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	existed := sess.ID != ""
	if !existed {
		sess.ID = randomString(32)
	}
	now := s.now()
	sess.Values[keySaved] = now.Unix()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(sess.Values); err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	row := store.Session{ID: rowID(sess.ID), Data: buf.Bytes(),
		ExpiresAt: now.Add(time.Duration(sess.Options.MaxAge) * time.Second).UTC()}
	if uid, ok := sess.Values[keyUserID].(int64); ok {
		row.UserID = &uid
	}
	if err := s.rows.SaveSession(r.Context(), row); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if existed {
		// Requests still carrying the cookie before this save must see
		// the new values (when it was saved last), not the cached ones.
		s.cache.dropSession(sess.ID)
	}
	encoded, err := securecookie.EncodeMulti(sess.Name(), sess.ID, s.codecs...)
	if err != nil {
		return fmt.Errorf("encode session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// deleteRow ends the session with that ID, in the table and in the cache.
// Ending a missing session is not an error.
func (s *SessionStore) deleteRow(ctx context.Context, id string) error {
	err := s.rows.DeleteSession(ctx, rowID(id))
	s.cache.dropSession(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (s *SessionStore) isSecure(r *http.Request) bool {
	switch s.secure {
	case "always":
		return true
	case "never":
		return false
	}
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// rowID is the key of a session in the table: a hash of the ID the cookie
// carries.
func rowID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SettingStore is the part of the store that keeps generated settings.
type SettingStore interface {
	SettingOrCreate(ctx context.Context, key, value string) (string, error)
}

// CookieSecret returns the secret that signs cookies: configured if not
// empty, otherwise one generated at the first start and kept in the store
// (so that sessions survive restarts and every instance agrees).
func CookieSecret(ctx context.Context, settings SettingStore, configured string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 16 {
			return nil, errors.New("cookie-secret: must be at least 16 characters")
		}
		return []byte(configured), nil
	}
	v, err := settings.SettingOrCreate(ctx, "cookie-secret", randomString(32))
	if err != nil {
		return nil, fmt.Errorf("cookie secret: %w", err)
	}
	return []byte(v), nil
}
