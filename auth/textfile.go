package auth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// TextFile authenticates against a file of lines username,password,role,
// the seed's format. Blank lines and lines starting with # are ignored.
// The password is either plain or a bcrypt/argon2id hash; since the role
// is the last field and the username cannot hold a comma, a plain password
// may contain commas; spaces around fields are ignored. The file is re-read whenever its modification time or
// size changes, so edits apply without a restart; a malformed line is
// logged, naming the line, and skipped.
type TextFile struct {
	path  string
	log   *slog.Logger
	dummy string // checked for unknown users; tests swap in a cheap one

	mu      sync.Mutex
	modTime time.Time
	size    int64
	loaded  bool
	entries map[string]textEntry
}

type textEntry struct {
	password string
	role     Role
}

// NewTextFile returns the text-file back-end reading path. The file is
// read at the first sign-in, so a missing file is reported then.
func NewTextFile(path string, log *slog.Logger) *TextFile {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TextFile{path: path, log: log, dummy: dummyHash}
}

// Authenticate implements Authenticator.
func (t *TextFile) Authenticate(_ context.Context, username, password string) (Identity, error) {
	if username == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	entries, err := t.current()
	if err != nil {
		return Identity{}, err
	}
	e, ok := entries[username]
	if !ok {
		CheckPassword(t.dummy, password)
		return Identity{}, ErrBadCredentials
	}
	if !matchPassword(e.password, password) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Username: username, Role: e.role}, nil
}

// current returns the entries, re-reading the file if it changed since the
// last call.
func (t *TextFile) current() (map[string]textEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	if t.loaded && fi.ModTime().Equal(t.modTime) && fi.Size() == t.size {
		return t.entries, nil
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	t.entries = parseTextFile(t.path, data, t.log)
	t.modTime, t.size, t.loaded = fi.ModTime(), fi.Size(), true
	return t.entries, nil
}

func parseTextFile(path string, data []byte, log *slog.Logger) map[string]textEntry {
	entries := make(map[string]textEntry)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, rest, ok1 := strings.Cut(line, ",")
		i := strings.LastIndex(rest, ",")
		skip := func(why string) {
			log.Warn("auth file: line skipped", "file", path, "line", n, "reason", why)
		}
		if !ok1 || i < 0 {
			skip("want username,password,role")
			continue
		}
		user = strings.TrimSpace(user)
		password, roleText := strings.TrimSpace(rest[:i]), strings.TrimSpace(rest[i+1:])
		if user == "" {
			skip("empty username")
			continue
		}
		if password == "" {
			skip("empty password")
			continue
		}
		role, err := ParseRole(roleText)
		if err != nil {
			skip(err.Error())
			continue
		}
		if _, dup := entries[user]; dup {
			skip(fmt.Sprintf("user %q already defined above", user))
			continue
		}
		entries[user] = textEntry{password: password, role: role}
	}
	if err := sc.Err(); err != nil {
		log.Warn("auth file: rest of the file skipped", "file", path, "err", err)
	}
	return entries
}
