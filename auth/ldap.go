package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAPConfig holds the seed's LDAP options (ldap-server-uri, ldap-bind-user,
// ldap-bind-password, ldap-base-dn, ldap-admin-gid, ldap-user-gid,
// ldap-guest-gid, ldap-group-name).
type LDAPConfig struct {
	URL          string // ldap://, ldaps:// or ldapi://
	BindDN       string // service account; empty for an anonymous search
	BindPassword string
	BaseDN       string

	// AdminGroup, UserGroup and GuestGroup identify the groups that give a
	// role: a gidNumber or a group cn. Empty means no group gives that role.
	AdminGroup, UserGroup, GuestGroup string

	// GroupName says where group membership is read:
	//   - an attribute of the user's entry, compared with the group ids
	//     ("gidNumber", the default and the original Zoe's choice, or
	//     "memberOf", whose values are group DNs matched by their cn);
	//   - "posixGroup": groups under BaseDN with memberUid=<uid>, matched by
	//     gidNumber or cn, plus the user's primary gidNumber;
	//   - "groupOfNames" / "groupOfUniqueNames": groups under BaseDN whose
	//     member / uniqueMember is the user's DN, matched by cn.
	GroupName string

	// Timeout bounds the dial and each LDAP operation; 0 means 10 s.
	Timeout time.Duration
	// TLS configures ldaps:// (for example a private CA); nil uses the
	// system roots.
	TLS *tls.Config
}

// LDAP authenticates against a directory: it binds as the service account,
// finds the user by uid under the base DN, binds as the user's DN with the
// password, and maps the user's groups to a role (admin over user over
// guest). Every LDAP failure is a refusal: unlike the original Zoe, an
// error other than "invalid credentials" never lets anyone in.
type LDAP struct {
	cfg LDAPConfig
}

// NewLDAP checks cfg and returns the LDAP back-end.
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	if cfg.URL == "" {
		return nil, errors.New("ldap-server-uri: must not be empty")
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("ldap-base-dn: must not be empty")
	}
	if cfg.AdminGroup == "" && cfg.UserGroup == "" && cfg.GuestGroup == "" {
		return nil, errors.New("ldap-admin-gid, ldap-user-gid, ldap-guest-gid: at least one must be set, or nobody gets a role")
	}
	if cfg.GroupName == "" {
		cfg.GroupName = "gidNumber"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &LDAP{cfg: cfg}, nil
}

// Authenticate implements Authenticator.
func (l *LDAP) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	// An empty password would make the user bind an "unauthenticated bind",
	// which many servers accept: it must never count as a sign-in.
	if username == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	conn, err := l.dial(ctx)
	if err != nil {
		return Identity{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if l.cfg.BindDN != "" {
		if err := conn.Bind(l.cfg.BindDN, l.cfg.BindPassword); err != nil {
			return Identity{}, fmt.Errorf("ldap bind as %s: %w", l.cfg.BindDN, err)
		}
	}
	attrs := []string{"uid", "mail", "uidNumber", "gidNumber"}
	if !isGroupClass(l.cfg.GroupName) {
		attrs = append(attrs, l.cfg.GroupName)
	}
	res, err := conn.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, l.timeLimit(), false, "(uid="+ldap.EscapeFilter(username)+")", attrs, nil))
	if err != nil {
		return Identity{}, fmt.Errorf("ldap search for user: %w", err)
	}
	switch len(res.Entries) {
	case 0:
		return Identity{}, ErrBadCredentials
	case 1:
	default:
		return Identity{}, fmt.Errorf("ldap search for user: %d entries match uid=%s", len(res.Entries), username)
	}
	entry := res.Entries[0]
	groups, err := l.groups(conn, entry)
	if err != nil {
		return Identity{}, err
	}

	if err := conn.Bind(entry.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return Identity{}, ErrBadCredentials
		}
		return Identity{}, fmt.Errorf("ldap bind as user: %w", err)
	}

	role, ok := l.role(groups)
	if !ok {
		return Identity{}, fmt.Errorf("%w: %s is in none of the configured LDAP groups", ErrNoRole, username)
	}
	// The directory's spelling of the uid names the Zoe account; an entry
	// may have several uids, so take the one that was typed.
	id := Identity{Username: username, Role: role, Email: entry.GetAttributeValue("mail")}
	for _, uid := range entry.GetAttributeValues("uid") {
		if strings.EqualFold(uid, username) {
			id.Username = uid
			break
		}
	}
	if n, err := strconv.Atoi(entry.GetAttributeValue("uidNumber")); err == nil && n > 0 {
		id.FSUID = n
	}
	return id, nil
}

func (l *LDAP) dial(ctx context.Context) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ldap connect %s: %w", l.cfg.URL, err)
	}
	timeout := l.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		// A dialer timeout of 0 or less means none at all.
		timeout = max(time.Until(dl), time.Millisecond)
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout})}
	if l.cfg.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(l.cfg.TLS))
	}
	conn, err := ldap.DialURL(l.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap connect %s: %w", l.cfg.URL, err)
	}
	conn.SetTimeout(timeout)
	return conn, nil
}

// timeLimit is the server-side limit of a search, in whole seconds.
func (l *LDAP) timeLimit() int {
	return max(1, int(l.cfg.Timeout/time.Second))
}

func isGroupClass(name string) bool {
	switch strings.ToLower(name) {
	case "posixgroup", "groupofnames", "groupofuniquenames":
		return true
	}
	return false
}

// groups returns the identifiers (gid numbers, cns) of the groups the user
// belongs to, in lower case.
func (l *LDAP) groups(conn *ldap.Conn, user *ldap.Entry) (map[string]bool, error) {
	set := make(map[string]bool)
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" {
			set[strings.ToLower(v)] = true
		}
	}
	var filter string
	switch strings.ToLower(l.cfg.GroupName) {
	case "posixgroup":
		add(user.GetAttributeValue("gidNumber"))
		filter = "(&(objectClass=posixGroup)(memberUid=" + ldap.EscapeFilter(user.GetAttributeValue("uid")) + "))"
	case "groupofnames":
		filter = "(&(objectClass=groupOfNames)(member=" + ldap.EscapeFilter(user.DN) + "))"
	case "groupofuniquenames":
		filter = "(&(objectClass=groupOfUniqueNames)(uniqueMember=" + ldap.EscapeFilter(user.DN) + "))"
	default:
		for _, v := range user.GetEqualFoldAttributeValues(l.cfg.GroupName) {
			add(v)
			// memberOf and similar hold group DNs: match them by cn too.
			if dn, err := ldap.ParseDN(v); err == nil && len(dn.RDNs) > 0 {
				for _, a := range dn.RDNs[0].Attributes {
					if strings.EqualFold(a.Type, "cn") {
						add(a.Value)
					}
				}
			}
		}
		return set, nil
	}
	res, err := conn.Search(ldap.NewSearchRequest(l.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, l.timeLimit(), false, filter, []string{"cn", "gidNumber"}, nil))
	if err != nil {
		return nil, fmt.Errorf("ldap search for groups: %w", err)
	}
	for _, e := range res.Entries {
		add(e.GetAttributeValue("gidNumber"))
		for _, cn := range e.GetAttributeValues("cn") {
			add(cn)
		}
	}
	return set, nil
}

func (l *LDAP) role(groups map[string]bool) (Role, bool) {
	for _, c := range []struct {
		group string
		role  Role
	}{{l.cfg.AdminGroup, RoleAdmin}, {l.cfg.UserGroup, RoleUser}, {l.cfg.GuestGroup, RoleGuest}} {
		if c.group != "" && groups[strings.ToLower(strings.TrimSpace(c.group))] {
			return c.role, true
		}
	}
	return "", false
}
