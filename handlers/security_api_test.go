package handlers

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zoe-analytics/zoe/store"
)

// TestSecurityAPICrossSite forges API calls as a browser would send them
// from another site for a user who once typed their password into the
// browser's HTTP Basic prompt (the API asks for it with WWW-Authenticate):
// the browser then adds the Authorization header by itself, and a form
// with enctype="text/plain" can shape its body into JSON. Such calls are
// refused; the API's own clients, which send no Origin, are not.
func TestSecurityAPICrossSite(t *testing.T) {
	e := newSecEnv(t)
	// What <input name='{"zapp": "web-0", "name": "' value='"}'> posts.
	formJSON := `{"zapp": "web-0", "name": "="}`
	call := func(method, path, body string, header http.Header) int {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, e.ts.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", portalPassword)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	count := func() int {
		t.Helper()
		xs, _, err := e.st.ListExecutions(context.Background(), store.ExecutionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(xs)
	}

	forged := []struct {
		name   string
		method string
		path   string
		body   string
		header http.Header
	}{
		{"text/plain form from another site", http.MethodPost, "/api/v1/executions", formJSON,
			http.Header{"Content-Type": {"text/plain"}, "Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		{"no-cors fetch, Origin only", http.MethodPost, "/api/v1/executions", formJSON, http.Header{"Origin": {"https://evil.example"}}},
		{"from a sibling site (the services' origin)", http.MethodPost, "/api/v1/executions", formJSON,
			http.Header{"Content-Type": {"text/plain"}, "Sec-Fetch-Site": {"same-site"}}},
		{"an admin account created", http.MethodPost, "/api/v1/users", `{"username": "mallory", "role": "admin", "password": "mallory-password-1"}`,
			http.Header{"Content-Type": {"text/plain"}, "Origin": {"null"}}},
		{"a token revoked", http.MethodDelete, "/api/v1/me/tokens/1", "", http.Header{"Origin": {"https://evil.example"}}},
	}
	before := e.state()
	for _, f := range forged {
		if got := call(f.method, f.path, f.body, f.header); got != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", f.name, got)
		}
	}
	if after := e.state(); len(after.Executions) != len(before.Executions) || len(after.Users) != len(before.Users) || len(after.Tokens) != len(before.Tokens) {
		t.Errorf("forged calls changed the state: %d→%d executions, %d→%d users, %d→%d tokens",
			len(before.Executions), len(after.Executions), len(before.Users), len(after.Users), len(before.Tokens), len(after.Tokens))
	}

	// Reading is harmless (another site cannot read the answer) and the
	// API's own clients send no Origin.
	if got := call(http.MethodGet, "/api/v1/me", "", http.Header{"Origin": {"https://evil.example"}}); got != http.StatusOK {
		t.Errorf("cross-site GET: got %d, want 200", got)
	}
	n := count()
	if got := call(http.MethodPost, "/api/v1/executions", formJSON, http.Header{"Content-Type": {"application/json"}}); got != http.StatusCreated {
		t.Errorf("a client without Origin: got %d, want 201", got)
	}
	if got := call(http.MethodPost, "/api/v1/executions", formJSON, http.Header{"Content-Type": {"application/json"}, "Origin": {e.ts.URL}, "Sec-Fetch-Site": {"same-origin"}}); got != http.StatusCreated {
		t.Errorf("the portal's own origin: got %d, want 201", got)
	}
	if got := count(); got != n+2 {
		t.Errorf("got %d executions, want %d", got, n+2)
	}
}
