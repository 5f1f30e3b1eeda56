package handlers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/zoe-analytics/zoe/views"
)

// MaxUpload bounds one workspace upload request.
const MaxUpload = 2 << 30

// errBadPath is a workspace path that is not a clean relative path.
var errBadPath = errors.New("invalid path")

// cleanPath turns a path from a form or query into a clean relative path
// inside the workspace ("." for the top). Anything that tries to leave it
// is refused here; os.Root refuses it again, including through symlinks.
func cleanPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" || p == "/" || p == "." {
		return ".", nil
	}
	if strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return "", errBadPath
	}
	c := path.Clean(strings.TrimPrefix(p, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errBadPath
	}
	return c, nil
}

// workspaceRoot opens the signed-in user's workspace, creating it.
func (s *Server) workspaceRoot(r *http.Request) (*os.Root, error) {
	dir, err := s.lc.Workspace(*currentUser(r))
	if err != nil {
		return nil, err
	}
	return os.OpenRoot(dir)
}

func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request) {
	s.renderWorkspace(w, r, r.URL.Query().Get("path"), "", http.StatusOK)
}

func (s *Server) renderWorkspace(w http.ResponseWriter, r *http.Request, rawPath, flash string, status int) {
	dir, err := cleanPath(rawPath)
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "That path is outside your workspace.")
		return
	}
	root, err := s.workspaceRoot(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer root.Close()
	f, err := root.Open(dir)
	if err != nil {
		s.pageError(w, r, http.StatusNotFound, "No such folder in your workspace.")
		return
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		s.pageError(w, r, http.StatusNotFound, "No such folder in your workspace.")
		return
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].IsDir() != entries[j].IsDir() {
			return entries[i].IsDir()
		}
		return entries[i].Name() < entries[j].Name()
	})
	v := views.Workspace{Path: dir, Flash: flash}
	if dir != "." {
		v.Parent = path.Dir(dir)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		v.Entries = append(v.Entries, views.WorkspaceEntry{
			Name: e.Name(), Path: path.Join(dir, e.Name()), Dir: e.IsDir(),
			Size: info.Size(), Modified: info.ModTime().UTC(), Link: info.Mode()&fs.ModeSymlink != 0,
		})
	}
	p := s.page(r, "Workspace")
	p.Nav = "workspace"
	s.render(w, r, status, views.WorkspacePage(p, v), nil)
}

func (s *Server) workspaceDownload(w http.ResponseWriter, r *http.Request) {
	name, err := cleanPath(r.URL.Query().Get("path"))
	if err != nil || name == "." {
		s.pageError(w, r, http.StatusBadRequest, "That path is outside your workspace.")
		return
	}
	root, err := s.workspaceRoot(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		s.pageError(w, r, http.StatusNotFound, "No such file in your workspace.")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		s.pageError(w, r, http.StatusNotFound, "No such file in your workspace.")
		return
	}
	// Always a download, never rendered: a file written by a notebook must
	// not run as a page of the portal's origin.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(name)}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", info.ModTime(), f)
}

func (s *Server) workspaceUpload(w http.ResponseWriter, r *http.Request) {
	// The CSRF check has parsed the form already (large files spill to
	// temporary files); the body was bounded by limitBodies.
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		s.renderWorkspace(w, r, ".", "Upload failed: "+uploadError(err), http.StatusBadRequest)
		return
	}
	dir, err := cleanPath(r.FormValue("path"))
	if err != nil {
		s.pageError(w, r, http.StatusBadRequest, "That path is outside your workspace.")
		return
	}
	root, err := s.workspaceRoot(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer root.Close()
	for _, fh := range r.MultipartForm.File["file"] {
		name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
		if name == "" || name == "." || name == ".." || name == "/" {
			continue
		}
		if err := saveUpload(root, path.Join(dir, name), fh); err != nil {
			s.renderWorkspace(w, r, dir, fmt.Sprintf("Cannot write %s.", name), http.StatusBadRequest)
			return
		}
	}
	redirect(w, r, "/workspace?path="+urlQueryEscape(dir))
}

func saveUpload(root *os.Root, target string, fh *multipart.FileHeader) error {
	src, err := fh.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := root.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		_ = root.Remove(target)
		return err
	}
	return f.Close()
}

func uploadError(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Sprintf("uploads are limited to %d GiB per request", MaxUpload>>30)
	}
	return "the upload was interrupted"
}

func (s *Server) workspaceMkdir(w http.ResponseWriter, r *http.Request) {
	dir, err1 := cleanPath(r.PostFormValue("path"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err1 != nil || name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		s.renderWorkspace(w, r, ".", "A folder name must not be empty or contain slashes.", http.StatusUnprocessableEntity)
		return
	}
	root, err := s.workspaceRoot(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer root.Close()
	if err := root.Mkdir(path.Join(dir, name), 0o700); err != nil {
		s.renderWorkspace(w, r, dir, fmt.Sprintf("Cannot create %s: it may exist already.", name), http.StatusConflict)
		return
	}
	redirect(w, r, "/workspace?path="+urlQueryEscape(dir))
}

func (s *Server) workspaceDelete(w http.ResponseWriter, r *http.Request) {
	target, err := cleanPath(r.PostFormValue("path"))
	if err != nil || target == "." {
		s.pageError(w, r, http.StatusBadRequest, "That path is outside your workspace.")
		return
	}
	root, err := s.workspaceRoot(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	defer root.Close()
	if _, err := root.Lstat(target); err != nil {
		s.pageError(w, r, http.StatusNotFound, "No such file in your workspace.")
		return
	}
	if err := root.RemoveAll(target); err != nil {
		s.serverError(w, r, fmt.Errorf("delete %s: %w", target, err))
		return
	}
	redirect(w, r, "/workspace?path="+urlQueryEscape(path.Dir(target)))
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
