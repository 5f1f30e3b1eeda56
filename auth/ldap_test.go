package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"
)

// ldapConfig is the private slapd that scripts/testenv-ldap.sh starts; its
// tree is described at the top of that script.
func ldapConfig(t *testing.T) LDAPConfig {
	t.Helper()
	cfg := LDAPConfig{
		URL:          os.Getenv("ZOE_TEST_LDAP_URL"),
		BindDN:       os.Getenv("ZOE_TEST_LDAP_BIND_DN"),
		BindPassword: os.Getenv("ZOE_TEST_LDAP_BIND_PASSWORD"),
		BaseDN:       os.Getenv("ZOE_TEST_LDAP_BASE_DN"),
		AdminGroup:   "5000",
		UserGroup:    "5001",
		GuestGroup:   "5002",
		Timeout:      5 * time.Second,
	}
	if cfg.URL == "" || cfg.BindDN == "" || cfg.BaseDN == "" {
		t.Fatal("ZOE_TEST_LDAP_URL, ZOE_TEST_LDAP_BIND_DN or ZOE_TEST_LDAP_BASE_DN not set: run `make test` (or scripts/testenv.sh up && . .testenv/env)")
	}
	return cfg
}

func newTestLDAP(t *testing.T, cfg LDAPConfig) *LDAP {
	t.Helper()
	l, err := NewLDAP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLDAPAuthenticate(t *testing.T) {
	base := ldapConfig(t)
	ident := func(user string, role Role, uid int) Identity {
		return Identity{Username: user, Role: role, Email: user + "@zoe.test", FSUID: uid}
	}
	type want struct {
		id  Identity
		err error
	}
	ok := func(user string, role Role, uid int) want { return want{id: ident(user, role, uid)} }
	bad := want{err: ErrBadCredentials}
	noRole := want{err: ErrNoRole}

	tests := []struct {
		name     string
		mode     func(c *LDAPConfig)
		user, pw string
		want     want
	}{
		{name: "gidNumber: admin", user: "alice", pw: "alice-secret", want: ok("alice", RoleAdmin, 10001)},
		{name: "gidNumber: user", user: "bob", pw: "bob-secret", want: ok("bob", RoleUser, 10002)},
		{name: "gidNumber: guest", user: "carol", pw: "carol-secret", want: ok("carol", RoleGuest, 10003)},
		{name: "gidNumber: no group", user: "dave", pw: "dave-secret", want: noRole},
		{name: "gidNumber: membership alone does not count", user: "erin", pw: "erin-secret", want: noRole},
		{name: "uid matched without case, spelled as stored", user: "BOB", pw: "bob-secret", want: ok("bob", RoleUser, 10002)},
		{name: "wrong password", user: "alice", pw: "bob-secret", want: bad},
		{name: "empty password", user: "alice", pw: "", want: bad},
		{name: "unknown user", user: "zed", pw: "zed-secret", want: bad},
		{name: "no group, wrong password", user: "dave", pw: "nope", want: bad},
		{name: "injection: wildcard", user: "*", pw: "alice-secret", want: bad},
		{name: "injection: filter break-out", user: "*)(uid=*", pw: "alice-secret", want: bad},
		{name: "injection: or", user: "alice)(|(uid=*", pw: "alice-secret", want: bad},
		{name: "injection: NUL", user: "alice\x00", pw: "alice-secret", want: bad},

		{name: "posixGroup: admin beats user", mode: posixMode, user: "alice", pw: "alice-secret", want: ok("alice", RoleAdmin, 10001)},
		{name: "posixGroup: primary group", mode: posixMode, user: "bob", pw: "bob-secret", want: ok("bob", RoleUser, 10002)},
		{name: "posixGroup: memberUid", mode: posixMode, user: "erin", pw: "erin-secret", want: ok("erin", RoleUser, 10005)},
		{name: "posixGroup: no group", mode: posixMode, user: "dave", pw: "dave-secret", want: noRole},
		{name: "posixGroup by cn", mode: func(c *LDAPConfig) {
			posixMode(c)
			c.AdminGroup, c.UserGroup, c.GuestGroup = "Admins", "users", "guests"
		}, user: "erin", pw: "erin-secret", want: ok("erin", RoleUser, 10005)},

		{name: "groupOfNames: admin", mode: namesMode, user: "alice", pw: "alice-secret", want: ok("alice", RoleAdmin, 10001)},
		{name: "groupOfNames: user", mode: namesMode, user: "erin", pw: "erin-secret", want: ok("erin", RoleUser, 10005)},
		{name: "groupOfNames: guest", mode: namesMode, user: "carol", pw: "carol-secret", want: ok("carol", RoleGuest, 10003)},
		{name: "groupOfNames: no group", mode: namesMode, user: "dave", pw: "dave-secret", want: noRole},
		{name: "groupOfNames: wrong password", mode: namesMode, user: "alice", pw: "x", want: bad},

		{name: "only a guest group configured", mode: func(c *LDAPConfig) { c.AdminGroup, c.UserGroup = "", "" },
			user: "alice", pw: "alice-secret", want: noRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.mode != nil {
				tt.mode(&cfg)
			}
			got, err := newTestLDAP(t, cfg).Authenticate(context.Background(), tt.user, tt.pw)
			if tt.want.err == nil && err != nil || !errors.Is(err, tt.want.err) {
				t.Fatalf("Authenticate(%q) error = %v, want %v", tt.user, err, tt.want.err)
			}
			if diff := cmp.Diff(tt.want.id, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func posixMode(c *LDAPConfig) { c.GroupName = "posixGroup" }

func namesMode(c *LDAPConfig) {
	c.GroupName = "groupOfNames"
	c.AdminGroup, c.UserGroup, c.GuestGroup = "zoe-admins", "zoe-users", "zoe-guests"
}

// Every failure of the directory must be a refusal with an error, never a
// sign-in (the original accepted the password on any error other than
// "invalid credentials").
func TestLDAPFailuresRefuse(t *testing.T) {
	base := ldapConfig(t)

	// A server that accepts connections and never answers.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// A port nothing listens on.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name string
		mod  func(c *LDAPConfig)
	}{
		{"server down", func(c *LDAPConfig) { c.URL = "ldap://" + closedAddr }},
		{"server mute", func(c *LDAPConfig) { c.URL = "ldap://" + mute.Addr().String(); c.Timeout = 300 * time.Millisecond }},
		{"wrong service password", func(c *LDAPConfig) { c.BindPassword = "wrong" }},
		{"anonymous search not allowed", func(c *LDAPConfig) { c.BindDN, c.BindPassword = "", "" }},
		{"base DN does not exist", func(c *LDAPConfig) { c.BaseDN = "dc=nowhere,dc=test" }},
		{"bad URL", func(c *LDAPConfig) { c.URL = "http://127.0.0.1" }},
		{"ldaps with an unknown CA", func(c *LDAPConfig) {
			c.URL = os.Getenv("ZOE_TEST_LDAPS_URL")
			c.TLS = &tls.Config{RootCAs: x509.NewCertPool()}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			start := time.Now()
			id, err := newTestLDAP(t, cfg).Authenticate(context.Background(), "alice", "alice-secret")
			if err == nil {
				t.Fatalf("Authenticate = %+v, nil; want a refusal", id)
			}
			if id != (Identity{}) {
				t.Errorf("identity = %+v, want none", id)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("refusal took %v, want it bounded by the timeout", d)
			}
		})
	}

	// The password is right but the server refuses the user's bind with
	// confidentialityRequired (plain ldap:// to a TLS-only tree): a refusal
	// that is not ErrBadCredentials, and above all not a sign-in.
	t.Run("user bind fails with another error", func(t *testing.T) {
		cfg := base
		cfg.BaseDN = os.Getenv("ZOE_TEST_LDAP_TLS_ONLY_BASE_DN")
		if cfg.BaseDN == "" {
			t.Fatal("ZOE_TEST_LDAP_TLS_ONLY_BASE_DN not set: run `make test`")
		}
		id, err := newTestLDAP(t, cfg).Authenticate(context.Background(), "tina", "tina-secret")
		if err == nil || errors.Is(err, ErrBadCredentials) || id != (Identity{}) {
			t.Errorf("Authenticate = %+v, %v; want no identity and an error other than ErrBadCredentials", id, err)
		}
		// Over TLS the same account signs in: the setup is right.
		cfg.URL = os.Getenv("ZOE_TEST_LDAPS_URL")
		cfg.TLS = &tls.Config{InsecureSkipVerify: true}
		if id, err := newTestLDAP(t, cfg).Authenticate(context.Background(), "tina", "tina-secret"); err != nil || id.Role != RoleUser {
			t.Errorf("over ldaps: %+v, %v; want role user", id, err)
		}
	})

	t.Run("expired deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if _, err := newTestLDAP(t, base).Authenticate(ctx, "alice", "alice-secret"); err == nil {
			t.Errorf("Authenticate after the deadline = nil error, want a refusal")
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := newTestLDAP(t, base).Authenticate(ctx, "alice", "alice-secret"); err == nil {
			t.Errorf("Authenticate with a canceled context = nil error, want a refusal")
		}
	})
}

func TestLDAPTransports(t *testing.T) {
	base := ldapConfig(t)
	caPEM, err := os.ReadFile(os.Getenv("ZOE_TEST_LDAP_CA"))
	if err != nil {
		t.Fatalf("ZOE_TEST_LDAP_CA: %v: run `make test`", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ZOE_TEST_LDAP_CA holds no certificate")
	}
	tests := []struct {
		name string
		url  string
		tls  *tls.Config
	}{
		{"ldaps", os.Getenv("ZOE_TEST_LDAPS_URL"), &tls.Config{RootCAs: pool}},
		{"ldapi", os.Getenv("ZOE_TEST_LDAPI_URL"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == "" {
				t.Fatalf("no URL for %s in the environment: run `make test`", tt.name)
			}
			cfg := base
			cfg.URL, cfg.TLS = tt.url, tt.tls
			id, err := newTestLDAP(t, cfg).Authenticate(context.Background(), "bob", "bob-secret")
			if err != nil || id.Role != RoleUser {
				t.Errorf("Authenticate over %s = %+v, %v; want role user", tt.name, id, err)
			}
		})
	}
}

func TestNewLDAPValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  LDAPConfig
	}{
		{"no URL", LDAPConfig{BaseDN: "dc=x", UserGroup: "1"}},
		{"no base DN", LDAPConfig{URL: "ldap://x", UserGroup: "1"}},
		{"no group", LDAPConfig{URL: "ldap://x", BaseDN: "dc=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewLDAP(tt.cfg); err == nil {
				t.Errorf("NewLDAP(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

// memberOf-style attributes hold group DNs; they match by cn too. (The
// test slapd has no memberOf overlay, so this one runs on an entry.)
func TestLDAPGroupsFromAttribute(t *testing.T) {
	l := newTestLDAP(t, LDAPConfig{URL: "ldap://unused", BaseDN: "dc=x", AdminGroup: "Zoe-Admins", UserGroup: "5001", GroupName: "memberOf"})
	entry := ldap.NewEntry("uid=ada,dc=x", map[string][]string{
		"memberOf": {"cn=zoe-admins,ou=roles,dc=x", "cn=staff,ou=roles,dc=x"},
	})
	groups, err := l.groups(nil, entry)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"cn=zoe-admins,ou=roles,dc=x": true, "zoe-admins": true, "cn=staff,ou=roles,dc=x": true, "staff": true}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if role, ok := l.role(groups); !ok || role != RoleAdmin {
		t.Errorf("role = %q, %v; want admin", role, ok)
	}
}
