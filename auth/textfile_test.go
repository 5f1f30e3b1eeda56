package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

// cheapDummy replaces the cost-12 dummy hash in tests, where -race makes
// each cost-12 check take seconds.
var cheapDummy = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("dummy"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

func newTestTextFile(t *testing.T, content string) (*TextFile, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zoepass.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	tf := NewTextFile(path, slog.New(slog.NewTextHandler(&logs, nil)))
	tf.dummy = cheapDummy
	return tf, path, &logs
}

func TestTextFileAuthenticate(t *testing.T) {
	hashed, err := hashPassword("hashed-pw", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tf, _, logs := newTestTextFile(t, strings.Join([]string{
		"# Zoe users",
		"",
		"admin,admin-pw,admin",
		"  ada , ada-pw , user  ",
		"carl,guest-pw,guest",
		"dora," + hashed + ",user",
		"eve,pw,with,commas,user",
		"crlf,crlf-pw,user\r",
		"broken-no-role,pw",    // line 9
		"mallory,pw,superuser", // line 10
		"admin,another,guest",  // line 11: duplicate
		",nobody,user",         // line 12
		"twocols",              // line 13
	}, "\n"))
	tests := []struct {
		user, pw string
		want     Identity
		wantErr  error
	}{
		{user: "admin", pw: "admin-pw", want: Identity{Username: "admin", Role: RoleAdmin}},
		{user: "ada", pw: "ada-pw", want: Identity{Username: "ada", Role: RoleUser}},
		{user: "carl", pw: "guest-pw", want: Identity{Username: "carl", Role: RoleGuest}},
		{user: "dora", pw: "hashed-pw", want: Identity{Username: "dora", Role: RoleUser}},
		{user: "dora", pw: hashed, wantErr: ErrBadCredentials},
		{user: "eve", pw: "pw,with,commas", want: Identity{Username: "eve", Role: RoleUser}},
		{user: "crlf", pw: "crlf-pw", want: Identity{Username: "crlf", Role: RoleUser}},
		{user: "admin", pw: "another", wantErr: ErrBadCredentials},
		{user: "admin", pw: "Admin-pw", wantErr: ErrBadCredentials},
		{user: "admin", pw: "", wantErr: ErrBadCredentials},
		{user: "mallory", pw: "pw", wantErr: ErrBadCredentials},
		{user: "nobody", pw: "nobody", wantErr: ErrBadCredentials},
		{user: "", pw: "", wantErr: ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.pw, func(t *testing.T) {
			got, err := tf.Authenticate(context.Background(), tt.user, tt.pw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
	for _, line := range []string{"line=9 ", "line=10 ", "line=11 ", "line=12 ", "line=13 "} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log does not name %s; log:\n%s", line, logs)
		}
	}
	if strings.Contains(logs.String(), "line=3 ") {
		t.Errorf("log names a good line:\n%s", logs)
	}
}

func TestTextFileReload(t *testing.T) {
	tf, path, _ := newTestTextFile(t, "ada,old-pw,user\n")
	ctx := context.Background()
	if _, err := tf.Authenticate(ctx, "ada", "old-pw"); err != nil {
		t.Fatalf("before the edit: %v", err)
	}
	// Same size on purpose: only the modification time tells the change.
	if err := os.WriteFile(path, []byte("ada,new-pw,admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Authenticate(ctx, "ada", "old-pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after the edit: error = %v, want ErrBadCredentials", err)
	}
	id, err := tf.Authenticate(ctx, "ada", "new-pw")
	if err != nil || id.Role != RoleAdmin {
		t.Errorf("new password after the edit: %+v, %v; want role admin", id, err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = tf.Authenticate(ctx, "ada", "new-pw")
	if err == nil || errors.Is(err, ErrBadCredentials) {
		t.Errorf("missing file: error = %v, want an error other than ErrBadCredentials", err)
	}
}
