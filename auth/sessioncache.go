package auth

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/sessions"

	"github.com/zoe-analytics/zoe/store"
)

// The session cache's defaults. A second is short enough that a change
// made by another Zoe process on the same database (which cannot tell this
// one) holds within a second, and long enough that a page load, its
// fragments and a service's dozens of proxied requests read the session
// from the store once.
const (
	sessionCacheLifetime = time.Second
	sessionCacheSize     = 4096
)

// SessionCache remembers for about a second whom a session cookie signs
// in, so that a request does not read the session row, decode it and read
// the user again; that was a third of the CPU of a proxied request.
//
// Whatever this process does to a session or a user drops what the cache
// holds about it at once: signing out, ending a user's sessions, saving a
// session, and Sessions.ForgetUser after a user is changed or deleted.
// Another process sharing the database is seen within the lifetime.
//
// It is safe for concurrent use. Sessions managers of one process that
// share a database (the portal's and the proxy origin's) should share one
// cache, so that ending a session through either holds for both at once.
type SessionCache struct {
	lifetime time.Duration
	size     int64

	entries sync.Map // cacheKey → *cachedSession
	n       atomic.Int64
	// gen counts invalidations. A request notes it before reading the
	// store and caches what it read only if no invalidation happened
	// meanwhile, so that a sign-out racing with a request is not undone by
	// that request putting the old session back.
	gen       atomic.Uint64
	lastSweep atomic.Int64 // unix nanoseconds
}

// NewSessionCache returns an empty cache with the default lifetime and bound.
func NewSessionCache() *SessionCache {
	return &SessionCache{lifetime: sessionCacheLifetime, size: sessionCacheSize}
}

// cacheKey is a cookie as the browser sent it: its name too, because the
// portal's and the proxy origin's cookies are signed for their own names.
type cacheKey struct{ name, value string }

// cachedSession is a resolved session: its ID, its values (never modified
// once cached: each request gets a copy) and its enabled user.
type cachedSession struct {
	id      string
	values  map[any]any
	user    store.User
	expires time.Time
}

// state builds a request's session state from the entry.
func (e *cachedSession) state(st *SessionStore, name string) *requestState {
	sess := sessions.NewSession(st, name)
	opts := *st.Options
	sess.Options = &opts
	sess.ID, sess.Values, sess.IsNew = e.id, maps.Clone(e.values), false
	u := e.user
	csrf, _ := e.values[keyCSRF].(string)
	return &requestState{sess: sess, user: &u, csrf: csrf}
}

// generation is the number to pass to put for what is read from now on.
func (c *SessionCache) generation() uint64 { return c.gen.Load() }

func (c *SessionCache) get(k cacheKey, now time.Time) (*cachedSession, bool) {
	v, ok := c.entries.Load(k)
	if !ok {
		return nil, false
	}
	e := v.(*cachedSession)
	if !now.Before(e.expires) {
		if c.entries.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return nil, false
	}
	return e, true
}

// put caches e under k unless an invalidation happened since gen was
// read, or the cache is full of live entries.
func (c *SessionCache) put(k cacheKey, e *cachedSession, gen uint64, now time.Time) {
	if c.gen.Load() != gen || !c.reserve(now) {
		return
	}
	e.expires = now.Add(c.lifetime)
	if _, loaded := c.entries.Swap(k, e); loaded {
		c.n.Add(-1) // replaced: the slot reserved was not needed
	}
	// An invalidation that started after the first check may have passed
	// over k before it was stored: then it is taken out again here.
	if c.gen.Load() != gen {
		c.delete(k)
	}
}

// reserve counts one more entry if the bound allows it, sweeping expired
// entries when the cache is full.
func (c *SessionCache) reserve(now time.Time) bool {
	for range 2 {
		if c.n.Add(1) <= c.size {
			return true
		}
		c.n.Add(-1)
		if !c.sweep(now) {
			return false
		}
	}
	return false
}

// sweep removes expired entries, at most once per lifetime so that a full
// cache does not cost a scan per request, and reports whether there is
// room now.
func (c *SessionCache) sweep(now time.Time) bool {
	last := c.lastSweep.Load()
	if now.UnixNano()-last >= int64(c.lifetime) && c.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		c.entries.Range(func(k, v any) bool {
			if !now.Before(v.(*cachedSession).expires) && c.entries.CompareAndDelete(k, v) {
				c.n.Add(-1)
			}
			return true
		})
	}
	return c.n.Load() < c.size
}

func (c *SessionCache) delete(k cacheKey) {
	if _, ok := c.entries.LoadAndDelete(k); ok {
		c.n.Add(-1)
	}
}

// dropIf removes every entry drop selects. Invalidations are rare (a
// sign-out, a session saved once a minute, a user changed), so a scan of
// a few thousand entries at most is cheaper than keeping indexes.
func (c *SessionCache) dropIf(drop func(*cachedSession) bool) {
	c.gen.Add(1)
	c.entries.Range(func(k, v any) bool {
		if drop(v.(*cachedSession)) && c.entries.CompareAndDelete(k, v) {
			c.n.Add(-1)
		}
		return true
	})
}

// dropSession forgets the session with that ID, under every cookie that
// carries it (a session's cookie changes each time it is saved), and the
// sessions opened under it (LoginUnder), which end with it.
func (c *SessionCache) dropSession(id string) {
	row := rowID(id)
	c.dropIf(func(e *cachedSession) bool {
		parent, _ := e.values[keyParent].(string)
		return e.id == id || parent == row
	})
}

// dropUser forgets every session of a user.
func (c *SessionCache) dropUser(userID int64) {
	c.dropIf(func(e *cachedSession) bool { return e.user.ID == userID })
}
