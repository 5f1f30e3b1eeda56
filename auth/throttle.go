package auth

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// ErrThrottled matches every *ThrottleError.
var ErrThrottled = errors.New("too many failed sign-ins")

// ThrottleError refuses a sign-in attempt made too soon after repeated
// failures; RetryAfter is what to put in a Retry-After header.
type ThrottleError struct {
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %d s", int(math.Ceil(e.RetryAfter.Seconds())))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottleError) Is(target error) bool { return target == ErrThrottled }

// ThrottleConfig tunes a Throttle; zero fields take the defaults.
type ThrottleConfig struct {
	// FreeUser and FreeIP are the failures allowed without delay per
	// username (default 5) and per client address (default 20: many users
	// may share an address behind NAT).
	FreeUser, FreeIP int
	// Base is the lock after the first failure beyond the free ones; each
	// further failure doubles it, up to Max (defaults 1 s and 15 min).
	Base, Max time.Duration
	// Forget drops the failures of a key that has seen none for this long
	// (default 15 min).
	Forget time.Duration
	// MaxEntries bounds the memory used (default 10000 keys).
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Throttle slows down password guessing: after a few failed sign-ins for a
// username or from a client address, further attempts for that key are
// refused for a delay that doubles with every failure. It is in memory,
// safe for concurrent use, and bounded in size.
type Throttle struct {
	cfg ThrottleConfig

	mu   sync.Mutex
	keys map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	last     time.Time
	until    time.Time
}

// NewThrottle returns a Throttle with cfg's settings.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	if cfg.FreeUser <= 0 {
		cfg.FreeUser = 5
	}
	if cfg.FreeIP <= 0 {
		cfg.FreeIP = 20
	}
	if cfg.Base <= 0 {
		cfg.Base = time.Second
	}
	if cfg.Max <= 0 {
		cfg.Max = 15 * time.Minute
	}
	if cfg.Forget <= 0 {
		cfg.Forget = 15 * time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{cfg: cfg, keys: make(map[string]*throttleEntry)}
}

func throttleUserKey(username string) string { return "u:" + strings.ToLower(username) }
func throttleIPKey(ip string) string         { return "a:" + ip }

// Allow returns a *ThrottleError if username or ip is locked now.
func (t *Throttle) Allow(username, ip string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	var wait time.Duration
	for _, k := range t.keysFor(username, ip) {
		if e, ok := t.keys[k]; ok && e.until.After(now) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	if wait > 0 {
		return &ThrottleError{RetryAfter: wait}
	}
	return nil
}

// Failure records a failed sign-in for username from ip.
func (t *Throttle) Failure(username, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	for _, k := range t.keysFor(username, ip) {
		free := t.cfg.FreeUser
		if strings.HasPrefix(k, "a:") {
			free = t.cfg.FreeIP
		}
		e, ok := t.keys[k]
		if !ok || now.Sub(e.last) >= t.cfg.Forget {
			if !ok && len(t.keys) >= t.cfg.MaxEntries {
				t.evict(now)
			}
			e = &throttleEntry{}
			t.keys[k] = e
		}
		e.failures++
		e.last = now
		if over := e.failures - free; over > 0 {
			d := t.cfg.Max
			if over <= 30 {
				d = min(t.cfg.Base<<(over-1), t.cfg.Max)
			}
			e.until = now.Add(d)
		}
	}
}

// Success forgets the failures of username. The address keeps its count:
// otherwise one valid account would let a guesser reset its address lock.
func (t *Throttle) Success(username, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, throttleUserKey(username))
}

// Len is the number of keys held, for tests and metrics.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

func (t *Throttle) keysFor(username, ip string) []string {
	var ks []string
	if username != "" {
		ks = append(ks, throttleUserKey(username))
	}
	if ip != "" {
		ks = append(ks, throttleIPKey(ip))
	}
	return ks
}

// evict makes room: first every forgotten key, then, if none, the key
// whose last failure is the oldest.
func (t *Throttle) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	removed := false
	for k, e := range t.keys {
		if now.Sub(e.last) >= t.cfg.Forget && !e.until.After(now) {
			delete(t.keys, k)
			removed = true
			continue
		}
		if oldest == "" || e.last.Before(oldestAt) {
			oldest, oldestAt = k, e.last
		}
	}
	if !removed && oldest != "" {
		delete(t.keys, oldest)
	}
}
