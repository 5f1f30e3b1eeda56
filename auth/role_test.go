package auth

import (
	"context"
	"testing"

	"github.com/zoe-analytics/zoe/store"
)

func TestCan(t *testing.T) {
	all := []Capability{AccessAPI, CustomizeResources, OperateOthers, DeleteExecutions, ManageUsers, SeePlatform, FullShop}
	want := map[Role][]Capability{
		RoleGuest: nil,
		RoleUser:  {AccessAPI, CustomizeResources},
		RoleAdmin: all,
		"":        nil,
		"root":    nil,
	}
	for role, caps := range want {
		allowed := make(map[Capability]bool)
		for _, c := range caps {
			allowed[c] = true
		}
		for _, c := range all {
			t.Run(string(role)+"/"+c.String(), func(t *testing.T) {
				if got := Can(role, c); got != allowed[c] {
					t.Errorf("Can(%q, %v) = %v, want %v", role, c, got, allowed[c])
				}
			})
		}
	}
}

func TestUserCan(t *testing.T) {
	tests := []struct {
		name string
		u    *store.User
		want bool
	}{
		{"nobody", nil, false},
		{"admin", &store.User{Role: "admin", Enabled: true}, true},
		{"disabled admin", &store.User{Role: "admin", Enabled: false}, false},
		{"user", &store.User{Role: "user", Enabled: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UserCan(tt.u, ManageUsers); got != tt.want {
				t.Errorf("UserCan(ManageUsers) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"guest", RoleGuest, false},
		{"user", RoleUser, false},
		{"admin", RoleAdmin, false},
		{"Admin", "", true},
		{"superuser", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseRole(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAtLeast(t *testing.T) {
	tests := []struct {
		r, min Role
		want   bool
	}{
		{RoleAdmin, RoleUser, true},
		{RoleUser, RoleUser, true},
		{RoleGuest, RoleUser, false},
		{RoleGuest, RoleGuest, true},
		{"bogus", RoleGuest, false},
	}
	for _, tt := range tests {
		if got := tt.r.AtLeast(tt.min); got != tt.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.r, tt.min, got, tt.want)
		}
	}
}

func TestContextUser(t *testing.T) {
	ctx := context.Background()
	if got := FromContext(ctx); got != nil {
		t.Fatalf("FromContext(empty) = %v, want nil", got)
	}
	u := &store.User{ID: 7, Username: "ada"}
	if got := FromContext(WithUser(ctx, u)); got != u {
		t.Errorf("FromContext(WithUser(u)) = %v, want %v", got, u)
	}
}
