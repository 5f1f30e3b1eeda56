package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

func cached(id string, uid int64) *cachedSession {
	return &cachedSession{id: id, values: map[any]any{keyUserID: uid, keyCSRF: "tok-" + id}, user: store.User{ID: uid, Enabled: true}}
}

func TestSessionCacheExpiry(t *testing.T) {
	c := NewSessionCache()
	now := time.Unix(1_000_000, 0)
	k := cacheKey{name: "zoe_session", value: "v1"}
	c.put(k, cached("s1", 7), c.generation(), now)

	tests := []struct {
		name  string
		after time.Duration
		want  bool
	}{
		{"at once", 0, true},
		{"just before the lifetime", sessionCacheLifetime - time.Nanosecond, true},
		{"at the lifetime", sessionCacheLifetime, false},
		{"after it", 2 * sessionCacheLifetime, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := c.get(k, now.Add(tt.after))
			if got != tt.want {
				t.Errorf("get %v after caching: got %v, want %v", tt.after, got, tt.want)
			}
		})
	}
	if n := c.n.Load(); n != 0 {
		t.Errorf("got %d entries counted after the entry expired, want 0", n)
	}
}

func TestSessionCacheKeyIncludesName(t *testing.T) {
	c := NewSessionCache()
	now := time.Unix(1_000_000, 0)
	c.put(cacheKey{name: "zoe_session", value: "v1"}, cached("s1", 7), c.generation(), now)
	if _, ok := c.get(cacheKey{name: "zoe_proxy", value: "v1"}, now); ok {
		t.Error("a portal cookie's value was accepted under the proxy origin's cookie name")
	}
}

func TestSessionCacheInvalidation(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	keys := map[string]cacheKey{}
	fill := func(c *SessionCache) {
		// Two cookies (before and after a save) of ada's session s1, one
		// of her session s2, one of bob's session s3.
		for _, e := range []struct {
			cookie, id string
			uid        int64
		}{{"a", "s1", 1}, {"b", "s1", 1}, {"c", "s2", 1}, {"d", "s3", 2}} {
			keys[e.cookie] = cacheKey{name: "zoe_session", value: e.cookie}
			c.put(keys[e.cookie], cached(e.id, e.uid), c.generation(), now)
		}
	}
	tests := []struct {
		name string
		drop func(c *SessionCache)
		want map[string]bool // cookie → still cached
	}{
		{"session", func(c *SessionCache) { c.dropSession("s1") }, map[string]bool{"a": false, "b": false, "c": true, "d": true}},
		{"user", func(c *SessionCache) { c.dropUser(1) }, map[string]bool{"a": false, "b": false, "c": false, "d": true}},
		{"unknown session", func(c *SessionCache) { c.dropSession("s9") }, map[string]bool{"a": true, "b": true, "c": true, "d": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewSessionCache()
			fill(c)
			tt.drop(c)
			left := int64(0)
			for cookie, want := range tt.want {
				_, got := c.get(keys[cookie], now)
				if got != want {
					t.Errorf("cookie %s cached after dropping: got %v, want %v", cookie, got, want)
				}
				if want {
					left++
				}
			}
			if n := c.n.Load(); n != left {
				t.Errorf("got %d entries counted, want %d", n, left)
			}
		})
	}
}

// A request that read the store before a sign-out must not put the ended
// session back into the cache afterwards.
func TestSessionCacheRaceWithInvalidation(t *testing.T) {
	c := NewSessionCache()
	now := time.Unix(1_000_000, 0)
	k := cacheKey{name: "zoe_session", value: "v1"}
	gen := c.generation() // the request starts reading the store
	c.dropSession("s1")   // meanwhile, a sign-out
	c.put(k, cached("s1", 7), gen, now)
	if _, ok := c.get(k, now); ok {
		t.Error("a session read before its sign-out was cached after it")
	}
	c.put(k, cached("s1", 7), c.generation(), now)
	if _, ok := c.get(k, now); !ok {
		t.Error("a session read after the last invalidation was not cached")
	}
}

func TestSessionCacheBound(t *testing.T) {
	c := NewSessionCache()
	c.size = 3
	now := time.Unix(1_000_000, 0)
	put := func(i int, at time.Time) cacheKey {
		k := cacheKey{name: "zoe_session", value: fmt.Sprint("v", i)}
		c.put(k, cached(fmt.Sprint("s", i), int64(i)), c.generation(), at)
		return k
	}
	for i := range 3 {
		put(i, now)
	}
	if k := put(3, now); func() bool { _, ok := c.get(k, now); return ok }() {
		t.Error("a full cache of live entries took one more")
	}
	if n := c.n.Load(); n != 3 {
		t.Errorf("got %d entries, want the bound 3", n)
	}
	// Once the entries expired, a put sweeps them and finds room.
	later := now.Add(sessionCacheLifetime)
	k := put(4, later)
	if _, ok := c.get(k, later); !ok {
		t.Error("a cache full of expired entries did not take a new one")
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("got %d entries after the sweep, want 1", n)
	}
}

func TestSessionCacheConcurrent(t *testing.T) {
	c := NewSessionCache()
	c.size = 64
	now := time.Unix(1_000_000, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := cacheKey{name: "zoe_session", value: fmt.Sprint("v", (g*500+i)%100)}
				switch i % 10 {
				case 0:
					c.dropUser(int64(i % 7))
				case 1:
					c.dropSession(fmt.Sprint("s", i%13))
				default:
					c.put(k, cached(fmt.Sprint("s", i%13), int64(i%7)), c.generation(), now)
					c.get(k, now)
				}
			}
		})
	}
	wg.Wait()
	var counted int64
	c.entries.Range(func(_, _ any) bool { counted++; return true })
	if n := c.n.Load(); n != counted || n > c.size {
		t.Errorf("got %d entries counted and %d present, want equal and at most %d", n, counted, c.size)
	}
}
