// Package shop is the ZApp shop: a directory of ZApp folders written by
// admins, each with a manifest.json (version 1) that lists ZApps with their
// description, readme, logo, parameters and who may see them.
//
// The shop never fails as a whole: a broken folder or manifest entry is
// logged, recorded as a Problem for the admin pages, and skipped, while the
// rest of the shop (and the good entries of the same manifest) still load.
// Edits on disk are picked up without a restart: on access, at most once a
// second, the shop compares the sizes and modification times of its files
// with the last load and reloads only when something changed.
//
// A folder looks like this (see shop/sample/ for real ones):
//
//	jupyter/
//	  manifest.json    {"version": 1, "zapps": [{"category": "Notebooks",
//	                    "name": "Jupyter Notebook", "description": "jupyter.json",
//	                    "readable_descr": "README.md", "parameters": [],
//	                    "guest_access": true, "logo": "logo.svg"}]}
//	  jupyter.json     the ZApp description (format v3, see package zapp)
//	  README.md        markdown shown on the shop tile and the start page
//	  logo.svg         PNG, SVG or JPEG; default logo.png
//
// The ZApp with index i in the manifest of folder d has the ID "d-i", as in
// the original Zoe, so folder names must be lower case ([0-9a-z_.-]+).
package shop

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Roles the shop knows by name. Any other role sees the ZApps whose
// enabled_for/disabled_for lists allow it.
const (
	RoleAdmin = "admin"
	RoleGuest = "guest"
)

// ErrNotFound is returned for an unknown ZApp ID.
var ErrNotFound = errors.New("zapp not found")

// checkEvery is how often at most the shop looks at the disk for changes.
const checkEvery = time.Second

// Problem is something wrong in the shop directory that made Zoe skip a
// folder, a ZApp or a logo. Path is relative to the shop directory.
type Problem struct {
	Folder  string
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Shop is the loaded shop directory. It is safe for concurrent use.
type Shop struct {
	dir    string
	logger *slog.Logger

	// now and checkEvery are fields so that tests can drive reloads.
	now        func() time.Time
	checkEvery time.Duration

	// reload serialises scans of the disk; readers never wait for one.
	reload sync.Mutex

	mu          sync.RWMutex
	zapps       []*ZApp // sorted by category, then name
	byID        map[string]*ZApp
	problems    []Problem
	fingerprint string
	checked     time.Time
}

// Open loads the shop in dir. It never fails: problems, including a missing
// directory, are logged and reported by Problems, and the directory is
// looked at again on later accesses.
func Open(dir string, logger *slog.Logger) *Shop {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Shop{
		dir:        dir,
		logger:     logger,
		now:        time.Now,
		checkEvery: checkEvery,
		byID:       map[string]*ZApp{},
	}
	s.refresh(true)
	return s
}

// Dir returns the shop directory.
func (s *Shop) Dir() string { return s.dir }

// List returns the ZApps role may see, sorted by category then name.
func (s *Shop) List(role string) []*ZApp {
	s.refresh(false)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*ZApp, 0, len(s.zapps))
	for _, z := range s.zapps {
		if Visible(z, role) {
			out = append(out, z)
		}
	}
	return out
}

// Get returns the ZApp with the given ID whoever may see it: callers that
// act for a user must also check Visible.
func (s *Shop) Get(id string) (*ZApp, bool) {
	s.refresh(false)
	s.mu.RLock()
	defer s.mu.RUnlock()
	z, ok := s.byID[id]
	return z, ok
}

// Problems returns what was wrong with the shop directory at the last load,
// for admins.
func (s *Shop) Problems() []Problem {
	s.refresh(false)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Problem(nil), s.problems...)
}

// Logo returns the absolute path of a ZApp's logo, checked when the shop
// was loaded to be a PNG, SVG or JPEG file inside the ZApp's folder. The
// check is repeated here because the file may have been replaced (by a
// symbolic link, say) since.
func (s *Shop) Logo(id string) (string, error) {
	z, ok := s.Get(id)
	if !ok {
		return "", fmt.Errorf("logo of %s: %w", id, ErrNotFound)
	}
	if z.LogoFile == "" {
		return "", fmt.Errorf("logo of %s: %w", id, ErrNoLogo)
	}
	path, err := resolveLogo(z.folderPath, z.logoName)
	if err != nil {
		return "", fmt.Errorf("logo of %s: %w", id, err)
	}
	return path, nil
}

// Visible reports whether role may see and start z. Admins see everything;
// guests see only ZApps with guest_access (unless disabled_for names
// "guest"); other roles are filtered by enabled_for (default ["all"]) and
// disabled_for.
func Visible(z *ZApp, role string) bool {
	switch role {
	case RoleAdmin:
		return true
	case RoleGuest:
		return z.GuestAccess && !contains(z.DisabledFor, RoleGuest)
	}
	if contains(z.DisabledFor, role) {
		return false
	}
	return contains(z.EnabledFor, role) || contains(z.EnabledFor, "all")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// refresh reloads the shop when its files changed. Unless force is set it
// looks at the disk at most once per checkEvery, and when another goroutine
// is already looking it returns at once with the current state.
func (s *Shop) refresh(force bool) {
	now := s.now()
	if !force {
		s.mu.RLock()
		fresh := now.Sub(s.checked) < s.checkEvery
		s.mu.RUnlock()
		if fresh || !s.reload.TryLock() {
			return
		}
	} else {
		s.reload.Lock()
	}
	defer s.reload.Unlock()

	fp := fingerprint(s.dir)
	s.mu.RLock()
	same := fp == s.fingerprint && !s.checked.IsZero()
	s.mu.RUnlock()
	if same {
		s.mu.Lock()
		s.checked = now
		s.mu.Unlock()
		return
	}

	zapps, problems := load(s.dir)
	for _, p := range problems {
		s.logger.Warn("zapp shop: skipped", "folder", p.Folder, "path", p.Path, "problem", p.Message)
	}
	sort.SliceStable(zapps, func(i, j int) bool {
		if zapps[i].Category != zapps[j].Category {
			return zapps[i].Category < zapps[j].Category
		}
		return zapps[i].Name < zapps[j].Name
	})
	byID := make(map[string]*ZApp, len(zapps))
	for _, z := range zapps {
		byID[z.ID] = z
	}
	s.logger.Info("zapp shop loaded", "dir", s.dir, "zapps", len(zapps), "problems", len(problems))

	s.mu.Lock()
	s.zapps, s.byID, s.problems = zapps, byID, problems
	s.fingerprint, s.checked = fp, now
	s.mu.Unlock()
}
