// Package auth decides who may do what in Zoe: roles and their
// capabilities, quotas, password checks against the built-in accounts, a
// text file or LDAP, login throttling, server-side sessions with CSRF
// protection, and API tokens.
package auth

import (
	"context"
	"fmt"

	"github.com/zoe-analytics/zoe/store"
)

// Role is one of the three roles of the seed's user model.
type Role string

// The roles, from the least to the most powerful.
const (
	RoleGuest Role = "guest"
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Roles lists every role, least powerful first, for forms and route tables.
func Roles() []Role { return []Role{RoleGuest, RoleUser, RoleAdmin} }

// ParseRole accepts the role names exactly as stored.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleGuest, RoleUser, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: must be guest, user or admin", s)
}

func (r Role) rank() int {
	switch r {
	case RoleGuest:
		return 1
	case RoleUser:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// AtLeast reports whether r is min or a more powerful role; an unknown role
// is below every known one.
func (r Role) AtLeast(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// Capability is something a role may or may not do.
type Capability int

// The capabilities. Everything a route or a page checks is one of these, so
// that the whole policy is the table in Can.
const (
	// AccessAPI: use the JSON API and personal API tokens.
	AccessAPI Capability = iota + 1
	// CustomizeResources: change resources and parameters on the start form
	// and submit custom ZApp descriptions.
	CustomizeResources
	// OperateOthers: see and terminate other users' executions.
	OperateOthers
	// DeleteExecutions: delete the records of past executions.
	DeleteExecutions
	// ManageUsers: create, edit, disable and delete users and quotas.
	ManageUsers
	// SeePlatform: the platform status page (hosts, queue, scheduler).
	SeePlatform
	// FullShop: see every ZApp of the shop, whatever its access lists say.
	FullShop
)

func (c Capability) String() string {
	switch c {
	case AccessAPI:
		return "access the API"
	case CustomizeResources:
		return "customize resources"
	case OperateOthers:
		return "operate on others' executions"
	case DeleteExecutions:
		return "delete executions"
	case ManageUsers:
		return "manage users"
	case SeePlatform:
		return "see the platform status"
	case FullShop:
		return "see the full ZApp shop"
	}
	return fmt.Sprintf("capability(%d)", int(c))
}

// Can is the single place that says what each role may do. Guests may do
// none of these; the one-execution limit of guests is a quota (see
// EffectiveQuota).
func Can(r Role, c Capability) bool {
	switch r {
	case RoleAdmin:
		return c >= AccessAPI && c <= FullShop
	case RoleUser:
		return c == AccessAPI || c == CustomizeResources
	}
	return false
}

// UserCan is Can for a stored user; nil (nobody signed in) and disabled
// users can do nothing.
func UserCan(u *store.User, c Capability) bool {
	return u != nil && u.Enabled && Can(Role(u.Role), c)
}

type userKey struct{}

// WithUser returns a context carrying the signed-in user.
func WithUser(ctx context.Context, u *store.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// FromContext returns the user WithUser stored, or nil.
func FromContext(ctx context.Context) *store.User {
	u, _ := ctx.Value(userKey{}).(*store.User)
	return u
}
