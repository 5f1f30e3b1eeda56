package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// TokenPrefix starts every API token, so that secret scanners and people
// recognise one.
const TokenPrefix = "zoe_"

// NewToken returns a new API token: the secret, shown to the user once,
// and its hash, the only thing stored.
func NewToken() (secret, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// HashToken is the stored form of a token secret: hex SHA-256. A fast hash
// is enough because the secret has 256 random bits.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// looksLikeToken filters out values that cannot be tokens before the store
// is asked.
func looksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) == len(TokenPrefix)+43
}

// TokenCreator is the part of the store that keeps API tokens.
type TokenCreator interface {
	CreateToken(ctx context.Context, t *store.Token) (int64, error)
}

// IssueToken creates an API token named name for u and returns its secret,
// to show once, with the stored token. Accounts that may not use the API
// get none (ErrNoAPIAccess).
func IssueToken(ctx context.Context, tokens TokenCreator, u store.User, name string, expiresAt *time.Time) (string, store.Token, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", store.Token{}, errors.New("name: must not be empty")
	}
	if !UserCan(&u, AccessAPI) {
		return "", store.Token{}, ErrNoAPIAccess
	}
	secret, hash := NewToken()
	t := store.Token{UserID: u.ID, Name: name, Hash: hash, ExpiresAt: expiresAt}
	if _, err := tokens.CreateToken(ctx, &t); err != nil {
		return "", store.Token{}, err
	}
	return secret, t, nil
}
