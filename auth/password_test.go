package auth

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashPasswordCost(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost([]byte(h)); err != nil || c != PasswordCost {
		t.Errorf("cost of HashPassword's hash = %d, %v; want %d", c, err, PasswordCost)
	}
	if c, err := bcrypt.Cost([]byte(dummyHash)); err != nil || c != PasswordCost {
		t.Errorf("cost of dummyHash = %d, %v; want %d (unknown users must cost as much as known ones)", c, err, PasswordCost)
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	tests := []struct {
		name, pw string
		want     error
	}{
		{"empty", "", ErrPasswordEmpty},
		{"73 bytes", strings.Repeat("a", 73), ErrPasswordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := hashPassword(tt.pw, bcrypt.MinCost); !errors.Is(err, tt.want) {
				t.Errorf("hashPassword(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	bc, err := hashPassword("s3cret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	long72, err := hashPassword(strings.Repeat("a", 72), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// Made with argon2.IDKey("s3cret", "0123456789abcdef", 1, 8192, 1, 32).
	const a2 = "$argon2id$v=19$m=8192,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ydPEltlsFvyG4Lg12lgvBCtfCLdvC//BmQC6TAP7KGo"
	tests := []struct {
		name, hash, pw string
		want           bool
	}{
		{"bcrypt right", bc, "s3cret", true},
		{"bcrypt wrong", bc, "s3cret ", false},
		{"bcrypt $2y$", "$2y$" + bc[4:], "s3cret", true},
		{"bcrypt $2b$", "$2b$" + bc[4:], "s3cret", true},
		{"argon2id right", a2, "s3cret", true},
		{"argon2id wrong", a2, "secret", false},
		{"argon2id bad version", strings.Replace(a2, "v=19", "v=16", 1), "s3cret", false},
		{"argon2id huge memory", strings.Replace(a2, "m=8192", "m=99999999", 1), "s3cret", false},
		{"argon2id truncated", a2[:40], "s3cret", false},
		{"plain text is not a hash", "s3cret", "s3cret", false},
		{"bcrypt, longer than 72 bytes", long72, strings.Repeat("a", 72) + "tail", false},
		{"bcrypt, exactly 72 bytes", long72, strings.Repeat("a", 72), true},
		{"empty hash", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckPassword(tt.hash, tt.pw); got != tt.want {
				t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.hash, tt.pw, got, tt.want)
			}
		})
	}
}

func TestMatchPassword(t *testing.T) {
	bc, err := hashPassword("pw", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stored, pw string
		want       bool
	}{
		{"pw", "pw", true},
		{"pw", "pw2", false},
		{"pw", "", false},
		{bc, "pw", true},
		{bc, bc, false},
	}
	for _, tt := range tests {
		if got := matchPassword(tt.stored, tt.pw); got != tt.want {
			t.Errorf("matchPassword(%q, %q) = %v, want %v", tt.stored, tt.pw, got, tt.want)
		}
	}
}
