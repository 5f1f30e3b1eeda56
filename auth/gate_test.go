package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zoe-analytics/zoe/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addUser creates a built-in account with a cheap hash.
func addUser(t *testing.T, st *store.Store, name, role, password string) store.User {
	t.Helper()
	u := store.User{Username: name, Role: role, Enabled: true}
	if err := createUser(context.Background(), st, &u, password, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	return u
}

func newTestGate(t *testing.T, st *store.Store, a Authenticator, clock *fakeClock) *Gate {
	t.Helper()
	g := NewGate(st, a, NewThrottle(ThrottleConfig{FreeUser: 3, Now: clock.Now}), nil)
	g.builtin.dummy = cheapDummy
	if b, ok := a.(*Builtin); ok {
		b.dummy = cheapDummy
	}
	g.now = clock.Now
	return g
}

func TestGateBuiltin(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newFakeClock()
	g := newTestGate(t, st, NewBuiltin(st), clock)
	ada := addUser(t, st, "ada", "user", "ada-pw")
	off := addUser(t, st, "off", "admin", "off-pw")
	off.Enabled = false
	if err := st.UpdateUser(ctx, off); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, user, pw string
		wantErr        error
	}{
		{"right", "ada", "ada-pw", nil},
		{"wrong", "ada", "ada-PW", ErrBadCredentials},
		{"unknown", "bob", "ada-pw", ErrBadCredentials},
		{"empty password", "ada", "", ErrBadCredentials},
		{"disabled", "off", "off-pw", ErrDisabled},
		{"disabled, wrong password", "off", "x", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := g.SignIn(ctx, tt.user, tt.pw, "192.0.2.1")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SignIn error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (u.ID != ada.ID || u.LastLoginAt == nil) {
				t.Errorf("SignIn = %+v, want ada with a last-login time", u)
			}
		})
	}
	got, err := st.UserByID(ctx, ada.ID)
	if err != nil || got.LastLoginAt == nil || !got.LastLoginAt.Equal(clock.Now()) {
		t.Errorf("stored last login = %v (%v), want %v", got.LastLoginAt, err, clock.Now())
	}
}

func TestGateThrottles(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newFakeClock()
	g := newTestGate(t, st, NewBuiltin(st), clock)
	addUser(t, st, "ada", "user", "ada-pw")
	for i := range 4 {
		if _, err := g.SignIn(ctx, "ada", "guess", "192.0.2.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: error = %v, want ErrBadCredentials", i+1, err)
		}
	}
	_, err := g.SignIn(ctx, "ada", "ada-pw", "192.0.2.2")
	var te *ThrottleError
	if !errors.As(err, &te) || te.RetryAfter != time.Second {
		t.Fatalf("right password while locked: error = %v, want a ThrottleError of 1s", err)
	}
	clock.Advance(time.Second)
	if _, err := g.SignIn(ctx, "ada", "ada-pw", "192.0.2.2"); err != nil {
		t.Fatalf("right password after the lock: %v", err)
	}
	// The success forgot the username's failures.
	if _, err := g.SignIn(ctx, "ada", "guess", "192.0.2.2"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("one guess after a success: error = %v, want ErrBadCredentials (not throttled)", err)
	}
}

func TestGateTextFile(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	path := filepath.Join(t.TempDir(), "zoepass.csv")
	write := func(content string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write("ada,ada-pw,user\nroot,file-pw,admin\n", now)
	tf := NewTextFile(path, nil)
	tf.dummy = cheapDummy
	g := newTestGate(t, st, tf, newFakeClock())
	root := addUser(t, st, "root", "admin", "local-pw")

	u, err := g.SignIn(ctx, "ada", "ada-pw", "")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Source != SourceText || u.Role != "user" || !u.Enabled {
		t.Errorf("first sign-in row = %+v, want a new enabled text user", u)
	}

	write("ada,ada-pw,admin\nroot,file-pw,admin\n", now.Add(2*time.Second))
	u2, err := g.SignIn(ctx, "ada", "ada-pw", "")
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.Role != "admin" {
		t.Errorf("after the file made ada admin: %+v, want the same row with role admin", u2)
	}
	if stored, _ := st.UserByName(ctx, "ada"); stored.Role != "admin" {
		t.Errorf("stored role = %q, want admin", stored.Role)
	}

	// A local account keeps its own password: the file cannot take it over.
	if _, err := g.SignIn(ctx, "root", "file-pw", ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("local account with the file's password: error = %v, want ErrBadCredentials", err)
	}
	if u, err := g.SignIn(ctx, "root", "local-pw", ""); err != nil || u.ID != root.ID || u.Source != SourceBuiltin {
		t.Errorf("local account with its own password = %+v, %v; want the builtin row", u, err)
	}

	// Disabling in Zoe wins over the file.
	u2.Enabled = false
	if err := st.UpdateUser(ctx, u2); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SignIn(ctx, "ada", "ada-pw", ""); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled text user: error = %v, want ErrDisabled", err)
	}
}

func TestGateLDAP(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := newTestGate(t, st, newTestLDAP(t, ldapConfig(t)), newFakeClock())

	// Concurrent first sign-ins of one user end up on one row.
	var wg sync.WaitGroup
	ids := make([]int64, 4)
	errs := make([]error, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := g.SignIn(ctx, []string{"bob", "BOB", "Bob", "bob"}[i], "bob-secret", "")
			ids[i], errs[i] = u.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("sign-in %d = id %d, %v; want id %d, nil", i, ids[i], errs[i], ids[0])
		}
	}
	u, err := st.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if u.Source != SourceLDAP || u.Role != "user" || u.Email != "bob@zoe.test" || u.FSUID != 10002 {
		t.Errorf("row = %+v, want an ldap user with role user, mail and uid 10002", u)
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
	// A local account cannot be taken over by the directory, not even
	// through another spelling of its name.
	local := addUser(t, st, "alice", "guest", "local-pw")
	for _, name := range []string{"alice", "ALICE"} {
		if _, err := g.SignIn(ctx, name, "alice-secret", ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s with the directory's password: error = %v, want ErrBadCredentials", name, err)
		}
	}
	if got, _ := st.UserByID(ctx, local.ID); got.Source != SourceBuiltin || got.Role != "guest" {
		t.Errorf("local account after directory sign-ins = %+v, want it untouched", got)
	}
	if u, err := g.SignIn(ctx, "alice", "local-pw", ""); err != nil || u.ID != local.ID {
		t.Errorf("local account with its own password = %+v, %v", u, err)
	}

	if _, err := g.SignIn(ctx, "dave", "dave-secret", ""); !errors.Is(err, ErrNoRole) {
		t.Errorf("dave: error = %v, want ErrNoRole", err)
	}
	if _, err := st.UserByName(ctx, "dave"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dave's row: %v, want ErrNotFound (refused users get none)", err)
	}
}

func TestAuthenticateRequest(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newFakeClock()
	g := newTestGate(t, st, NewBuiltin(st), clock)
	ada := addUser(t, st, "ada", "user", "pass:with:colons")
	gus := addUser(t, st, "gus", "guest", "gus-pw")
	off := addUser(t, st, "off", "user", "off-pw")

	adaTok, _, err := IssueToken(ctx, st, ada, "laptop", nil)
	if err != nil {
		t.Fatal(err)
	}
	offTok, _, err := IssueToken(ctx, st, off, "script", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := IssueToken(ctx, st, gus, "nope", nil); !errors.Is(err, ErrNoAPIAccess) {
		t.Errorf("IssueToken for a guest: error = %v, want ErrNoAPIAccess", err)
	}
	// A guest token planted in the store directly is refused all the same.
	gusTok, gusHash := NewToken()
	if _, err := st.CreateToken(ctx, &store.Token{UserID: gus.ID, Name: "planted", Hash: gusHash}); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	oldTok, oldHash := NewToken()
	if _, err := st.CreateToken(ctx, &store.Token{UserID: ada.ID, Name: "old", Hash: oldHash, ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	off.Enabled = false
	if err := st.UpdateUser(ctx, off); err != nil {
		t.Fatal(err)
	}
	unknown, _ := NewToken()

	tests := []struct {
		name     string
		header   string
		basic    []string
		wantUser int64
		wantErr  error
	}{
		{name: "nothing", wantErr: ErrNoCredentials},
		{name: "bearer", header: "Bearer " + adaTok, wantUser: ada.ID},
		{name: "bearer lower-case scheme", header: "bearer " + adaTok, wantUser: ada.ID},
		{name: "bearer unknown", header: "Bearer " + unknown, wantErr: ErrBadToken},
		{name: "bearer garbage", header: "Bearer hello", wantErr: ErrBadToken},
		{name: "bearer expired", header: "Bearer " + oldTok, wantErr: ErrBadToken},
		{name: "bearer guest", header: "Bearer " + gusTok, wantErr: ErrNoAPIAccess},
		{name: "bearer disabled", header: "Bearer " + offTok, wantErr: ErrDisabled},
		{name: "basic, colons in the password", basic: []string{"ada", "pass:with:colons"}, wantUser: ada.ID},
		{name: "basic wrong", basic: []string{"ada", "pass"}, wantErr: ErrBadCredentials},
		{name: "basic guest", basic: []string{"gus", "gus-pw"}, wantErr: ErrNoAPIAccess},
		{name: "basic malformed", header: "Basic !!!", wantErr: ErrBadCredentials},
		{name: "other scheme", header: "Digest x", wantErr: ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/executions", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.basic != nil {
				r.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			u, err := g.AuthenticateRequest(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("AuthenticateRequest error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (u == nil || u.ID != tt.wantUser) {
				t.Errorf("AuthenticateRequest user = %+v, want id %d", u, tt.wantUser)
			}
			if tt.wantErr != nil && u != nil {
				t.Errorf("AuthenticateRequest user = %+v with error %v, want nil", u, err)
			}
		})
	}
	toks, err := st.ListTokens(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == "laptop" && (tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(clock.Now())) {
			t.Errorf("laptop token last used = %v, want %v", tok.LastUsedAt, clock.Now())
		}
	}
}

func TestNewToken(t *testing.T) {
	s1, h1 := NewToken()
	s2, h2 := NewToken()
	if s1 == s2 || h1 == h2 {
		t.Fatalf("two tokens are equal: %s %s", s1, s2)
	}
	if !looksLikeToken(s1) {
		t.Errorf("token %q does not look like a token", s1)
	}
	if HashToken(s1) != h1 || len(h1) != 64 {
		t.Errorf("hash = %q, want hex sha256 of the secret", h1)
	}
}

func TestCreateUserAndSetPassword(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g := newTestGate(t, st, NewBuiltin(st), newFakeClock())
	if err := createUser(ctx, st, &store.User{Username: "x", Role: "root", Enabled: true}, "pw", bcrypt.MinCost); err == nil {
		t.Errorf("createUser with role root: nil error, want one")
	}
	ada := addUser(t, st, "ada", "user", "old-pw")
	if ada.ID == 0 || ada.Source != SourceBuiltin || ada.PasswordHash == "" || ada.PasswordHash == "old-pw" {
		t.Errorf("created user = %+v, want an ID, source builtin and a hash", ada)
	}
	if err := setPassword(ctx, st, ada.ID, "new-pw", bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	if _, err := g.SignIn(ctx, "ada", "old-pw", ""); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: error = %v, want ErrBadCredentials", err)
	}
	if _, err := g.SignIn(ctx, "ada", "new-pw", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := setPassword(ctx, st, ada.ID, "", bcrypt.MinCost); !errors.Is(err, ErrPasswordEmpty) {
		t.Errorf("empty password: error = %v, want ErrPasswordEmpty", err)
	}
	if err := setPassword(ctx, st, 9999, "pw", bcrypt.MinCost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: error = %v, want ErrNotFound", err)
	}
}
