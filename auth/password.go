package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is the bcrypt cost of new hashes: about a quarter of a
// second on a current server core, which is what makes a stolen hash
// expensive to guess.
const PasswordCost = 12

// ErrPasswordEmpty and ErrPasswordTooLong are the validation errors of
// HashPassword; bcrypt ignores everything after 72 bytes, so longer
// passwords are refused rather than silently truncated.
var (
	ErrPasswordEmpty   = errors.New("password must not be empty")
	ErrPasswordTooLong = errors.New("password must be at most 72 bytes")
)

// HashPassword returns a bcrypt hash of pw.
func HashPassword(pw string) (string, error) { return hashPassword(pw, PasswordCost) }

func hashPassword(pw string, cost int) (string, error) {
	if pw == "" {
		return "", ErrPasswordEmpty
	}
	if len(pw) > 72 {
		return "", ErrPasswordTooLong
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// IsPasswordHash reports whether s looks like a hash CheckPassword
// understands (bcrypt $2a$/$2b$/$2y$ or $argon2id$) rather than a plain
// password.
func IsPasswordHash(s string) bool {
	for _, p := range []string{"$2a$", "$2b$", "$2y$", "$argon2id$"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// CheckPassword reports whether pw matches hash, a bcrypt or argon2id hash.
// Both comparisons are constant-time; anything else never matches.
func CheckPassword(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return checkArgon2id(hash, pw)
	case IsPasswordHash(hash):
		// bcrypt ignores bytes past the 72nd: refuse rather than let a
		// longer string match a shorter password.
		return len(pw) <= 72 && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	return false
}

// matchPassword compares a text-file entry, hashed or plain, with pw. Plain
// entries are compared through their digests so that neither the content
// nor the length leaks through timing.
func matchPassword(stored, pw string) bool {
	if IsPasswordHash(stored) {
		return CheckPassword(stored, pw)
	}
	a, b := sha256.Sum256([]byte(stored)), sha256.Sum256([]byte(pw))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// checkArgon2id verifies the PHC string format written by the reference
// implementation and by most libraries:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>, both in unpadded base64.
func checkArgon2id(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var mem, iter uint32
	var par uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iter, &par); err != nil {
		return false
	}
	// Refuse parameters that would let a planted hash exhaust the server.
	if mem == 0 || mem > 1<<20 || iter == 0 || iter > 16 || par == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 1024 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, iter, mem, par, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
