package handlers

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoe-analytics/zoe/auth"
)

// wsRequest calls a workspace handler directly as user name.
func (e *apiEnv) wsRequest(h http.HandlerFunc, name, method, target string, body *bytes.Buffer, contentType string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body == nil {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, body)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	u := e.users[name]
	r = r.WithContext(auth.WithUser(context.Background(), &u))
	w := httptest.NewRecorder()
	h(w, r)
	return w
}

func upload(t *testing.T, dir, filename, content string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("path", dir)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

func TestWorkspaceFiles(t *testing.T) {
	e := newAPIEnv(t)
	s := e.srv
	body, ct := upload(t, ".", "notes.txt", "hello workspace")
	if w := e.wsRequest(s.workspaceUpload, "alice", "POST", "/workspace/upload", body, ct); w.Code != http.StatusSeeOther {
		t.Fatalf("upload: got %d %s, want 303", w.Code, w.Body)
	}
	w := e.wsRequest(s.workspaceDownload, "alice", "GET", "/workspace/download?path=notes.txt", nil, "")
	if w.Code != 200 || w.Body.String() != "hello workspace" || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("download: got %d %q %q, want the file as an attachment", w.Code, w.Body, w.Header().Get("Content-Disposition"))
	}
	if w := e.wsRequest(s.workspaceDownload, "bob", "GET", "/workspace/download?path=notes.txt", nil, ""); w.Code != http.StatusNotFound {
		t.Errorf("bob reading alice's file: got %d, want 404 (his own workspace has no such file)", w.Code)
	}
	form := url.Values{"path": {"."}, "name": {"results"}}
	if w := e.wsRequest(s.workspaceMkdir, "alice", "POST", "/workspace/mkdir", bytes.NewBufferString(form.Encode()), "application/x-www-form-urlencoded"); w.Code != http.StatusSeeOther {
		t.Fatalf("mkdir: got %d %s, want 303", w.Code, w.Body)
	}
	if w := e.wsRequest(s.workspacePage, "alice", "GET", "/workspace", nil, ""); w.Code != 200 || !strings.Contains(w.Body.String(), "notes.txt") || !strings.Contains(w.Body.String(), "results/") {
		t.Errorf("list: got %d, want notes.txt and results/ listed:\n%s", w.Code, w.Body)
	}
	form = url.Values{"path": {"notes.txt"}}
	if w := e.wsRequest(s.workspaceDelete, "alice", "POST", "/workspace/delete", bytes.NewBufferString(form.Encode()), "application/x-www-form-urlencoded"); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: got %d, want 303", w.Code)
	}
	if w := e.wsRequest(s.workspaceDownload, "alice", "GET", "/workspace/download?path=notes.txt", nil, ""); w.Code != http.StatusNotFound {
		t.Errorf("download after delete: got %d, want 404", w.Code)
	}
}

func TestWorkspaceRefusesEscapes(t *testing.T) {
	e := newAPIEnv(t)
	s := e.srv
	dir, err := s.lc.Workspace(e.users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("workspace mode: got %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	// A symlink planted by a container pointing out of the workspace.
	if err := os.Symlink("/etc", filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../../../../etc/passwd", "..", "../bob", "etc/passwd", "passwd", "/etc/passwd", "a/../../x", "x\x00y"} {
		t.Run("download "+p, func(t *testing.T) {
			w := e.wsRequest(s.workspaceDownload, "alice", "GET", "/workspace/download?path="+url.QueryEscape(p), nil, "")
			if w.Code == 200 || strings.Contains(w.Body.String(), "root:") {
				t.Errorf("got %d %q, want a refusal", w.Code, w.Body)
			}
		})
		t.Run("list "+p, func(t *testing.T) {
			w := e.wsRequest(s.workspacePage, "alice", "GET", "/workspace?path="+url.QueryEscape(p), nil, "")
			if w.Code == 200 {
				t.Errorf("got %d, want a refusal", w.Code)
			}
		})
	}
	// An upload whose file name climbs out lands inside, under its base name.
	body, ct := upload(t, ".", "../../escaped.txt", "x")
	if w := e.wsRequest(s.workspaceUpload, "alice", "POST", "/workspace/upload", body, ct); w.Code != http.StatusSeeOther {
		t.Fatalf("upload: got %d %s", w.Code, w.Body)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.txt")); err != nil {
		t.Errorf("the upload did not land inside the workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(dir)), "escaped.txt")); err == nil {
		t.Error("the upload escaped the workspace")
	}
	// Uploading into a symlinked folder that points out is refused.
	body, ct = upload(t, "etc", "owned", "x")
	if w := e.wsRequest(s.workspaceUpload, "alice", "POST", "/workspace/upload", body, ct); w.Code == http.StatusSeeOther {
		t.Errorf("upload through a symlink out of the workspace: got %d, want a refusal", w.Code)
	}
	if _, err := os.Stat("/etc/owned"); err == nil {
		_ = os.Remove("/etc/owned")
		t.Error("the upload wrote to /etc")
	}
	form := url.Values{"path": {".."}}
	if w := e.wsRequest(s.workspaceDelete, "alice", "POST", "/workspace/delete", bytes.NewBufferString(form.Encode()), "application/x-www-form-urlencoded"); w.Code == http.StatusSeeOther {
		t.Errorf("deleting ..: got %d, want a refusal", w.Code)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the workspace is gone: %v", err)
	}
}
