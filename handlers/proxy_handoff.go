package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// The sign-in handoff to the proxy origin and the admins' confirmations.
//
// A browser does not send the portal's session cookie to another origin,
// so the portal vouches for its user with a ticket: random, good for one
// use within ticketLifetime, and meaningful only to this process (it is a
// key in memory, not a token anyone could forge or replay elsewhere). The
// proxy origin exchanges it for a session of its own, which ends when the
// portal session that minted the ticket does.
const (
	ticketLifetime = 30 * time.Second
	// ackLifetime bounds how long an admin's confirmation to open another
	// user's execution holds.
	ackLifetime = 12 * time.Hour
)

type handoff struct {
	mu      sync.Mutex
	tickets map[string]ticket
	acks    map[ackKey]time.Time
}

type ticket struct {
	user    int64
	parent  string // the portal session's handle (auth.Sessions.Handle)
	next    string
	expires time.Time
}

type ackKey struct{ user, execution int64 }

// mint returns a new ticket for user, signed in to the portal session
// parent, to open next on the proxy origin.
func (h *handoff) mint(user int64, parent, next string, now time.Time) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported systems
	id := base64.RawURLEncoding.EncodeToString(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, t := range h.tickets {
		if now.After(t.expires) {
			delete(h.tickets, k)
		}
	}
	h.tickets[id] = ticket{user: user, parent: parent, next: next, expires: now.Add(ticketLifetime)}
	return id
}

// redeem returns the ticket id and forgets it: a ticket opens one session.
func (h *handoff) redeem(id string, now time.Time) (ticket, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.tickets[id]
	if !ok {
		return ticket{}, false
	}
	delete(h.tickets, id)
	return t, !now.After(t.expires)
}

// ack records that user confirmed opening execution, which is not theirs.
func (h *handoff) ack(user, execution int64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, until := range h.acks {
		if now.After(until) {
			delete(h.acks, k)
		}
	}
	h.acks[ackKey{user, execution}] = now.Add(ackLifetime)
}

func (h *handoff) acked(user, execution int64, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.acks[ackKey{user, execution}]
	return ok && !now.After(until)
}
