package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newFakeClock starts at the real time: the store compares expiry times
// with its own clock too.
func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	if err == nil {
		return 0
	}
	var te *ThrottleError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow error = %v, want a *ThrottleError", err)
	}
	return te.RetryAfter
}

func TestThrottleBackoff(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{FreeUser: 3, FreeIP: 100, Base: time.Second, Max: 8 * time.Second, Forget: 15 * time.Minute, Now: clock.Now})
	// failures so far → lock expected after the next failure
	steps := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, want := range steps {
		if err := th.Allow("ada", "10.0.0.1"); err != nil {
			t.Fatalf("attempt %d: Allow = %v, want nil once the lock expired", i+1, err)
		}
		th.Failure("ada", "10.0.0.1")
		if got := retryAfter(t, th.Allow("ada", "10.0.0.1")); got != want {
			t.Errorf("after %d failures: retry after %v, want %v", i+1, got, want)
		}
		if got := retryAfter(t, th.Allow("ADA", "10.0.0.9")); got != want {
			t.Errorf("after %d failures: another spelling from another address waits %v, want %v", i+1, got, want)
		}
		clock.Advance(want)
	}
	if err := th.Allow("bob", "10.0.0.1"); err != nil {
		t.Errorf("another user from the same address: Allow = %v, want nil", err)
	}
	if msg := (&ThrottleError{RetryAfter: 1500 * time.Millisecond}).Error(); msg != "too many failed sign-ins: try again in 2 s" {
		t.Errorf("message = %q", msg)
	}
}

func TestThrottleSuccessAndForget(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{FreeUser: 2, FreeIP: 100, Now: clock.Now})
	th.Failure("ada", "ip")
	th.Failure("ada", "ip")
	th.Success("ada", "ip")
	th.Failure("ada", "ip")
	if err := th.Allow("ada", "ip"); err != nil {
		t.Errorf("after a success and one failure: Allow = %v, want nil", err)
	}
	th.Failure("ada", "ip")
	clock.Advance(16 * time.Minute)
	th.Failure("ada", "ip")
	if err := th.Allow("ada", "ip"); err != nil {
		t.Errorf("failures older than Forget must not count: Allow = %v, want nil", err)
	}
}

func TestThrottlePerAddress(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{FreeUser: 100, FreeIP: 3, Now: clock.Now})
	for i := range 4 {
		th.Failure(fmt.Sprintf("user%d", i), "192.0.2.7")
	}
	if retryAfter(t, th.Allow("someone-else", "192.0.2.7")) == 0 {
		t.Errorf("address with 4 failures over 4 usernames: Allow = nil, want locked")
	}
	if err := th.Allow("someone-else", "192.0.2.8"); err != nil {
		t.Errorf("other address: Allow = %v, want nil", err)
	}
	// A success for one account must not unlock the address.
	th.Success("user0", "192.0.2.7")
	if retryAfter(t, th.Allow("user0", "192.0.2.7")) == 0 {
		t.Errorf("after a success: address unlocked, want still locked")
	}
}

func TestThrottleBounded(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(ThrottleConfig{MaxEntries: 50, Now: clock.Now})
	for i := range 1000 {
		th.Failure(fmt.Sprintf("u%d", i), "")
		clock.Advance(time.Millisecond)
	}
	if n := th.Len(); n > 50 {
		t.Errorf("Len = %d, want at most 50", n)
	}
	if th.Len() == 0 {
		t.Errorf("Len = 0, want the recent keys kept")
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th := NewThrottle(ThrottleConfig{FreeUser: 1000000, FreeIP: 1000000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("u%d", i%10)
				_ = th.Allow(name, fmt.Sprint(g))
				th.Failure(name, fmt.Sprint(g))
				if i%7 == 0 {
					th.Success(name, fmt.Sprint(g))
				}
			}
		}()
	}
	wg.Wait()
	if n := th.Len(); n > 18 {
		t.Errorf("Len = %d, want at most 10 users + 8 addresses", n)
	}
}
