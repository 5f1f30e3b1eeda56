package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
)

// secEnv is the page harness (newPortalEnv) with an API token for every
// account, for tests that attack pages and API alike.
type secEnv struct {
	*portalEnv
	tokens map[string]string // username → API token secret
	tokIDs map[string]int64  // username → that token's ID
}

func newSecEnv(t *testing.T) *secEnv {
	t.Helper()
	e := &secEnv{portalEnv: newPortalEnv(t), tokens: map[string]string{}, tokIDs: map[string]int64{}}
	for name, u := range e.users {
		secret, hash := auth.NewToken()
		id, err := e.st.CreateToken(context.Background(), &store.Token{UserID: u.ID, Name: "security test", Hash: hash})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name], e.tokIDs[name] = secret, id
	}
	return e
}

// api calls the JSON API as user ("" for no credentials).
func (e *secEnv) api(user, method, path, body string) apiResponse {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return apiResponse{status: res.StatusCode, header: res.Header, body: data}
}

// send is a request of any method from a portal client: the form is sent
// as a body, and header is added as is (the caller decides about CSRF).
func (c *portalClient) send(method, path string, body string, header http.Header) page {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.e.ts.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return c.do(req)
}

// secRoute is one method and pattern of the route table, with the names
// of the middlewares that guard it.
type secRoute struct {
	method, pattern string
	guards          []string
}

func (r secRoute) String() string { return r.method + " " + r.pattern }

func (r secRoute) guarded(name string) bool {
	return slices.ContainsFunc(r.guards, func(g string) bool { return strings.Contains(g, name) })
}

// The methods the walks try; a route registered for every method
// (HandleFunc) is tried with each of them.
var secMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// secRoutes walks srv's route table.
func secRoutes(t *testing.T, srv *Server) []secRoute {
	t.Helper()
	table, ok := srv.Routes().(chi.Routes)
	if !ok {
		t.Fatalf("Routes: got %T, want a chi router", srv.Routes())
	}
	var out []secRoute
	err := chi.Walk(table, func(method, pattern string, _ http.Handler, mws ...func(http.Handler) http.Handler) error {
		if !slices.Contains(secMethods, method) {
			return nil
		}
		r := secRoute{method: method, pattern: pattern}
		for _, mw := range mws {
			r.guards = append(r.guards, runtime.FuncForPC(reflect.ValueOf(mw).Pointer()).Name())
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	if len(out) < 40 {
		t.Fatalf("route walk: got %d routes, want the whole table", len(out))
	}
	return out
}

// fill puts values into a pattern's {params} and its trailing *.
func fill(pattern string, values map[string]string) string {
	var b strings.Builder
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		b.WriteString(rest[:i])
		name := rest[i+1 : i+j]
		v, ok := values[name]
		if !ok {
			v = "no-value-for-" + name
		}
		b.WriteString(v)
		rest = rest[i+j+1:]
	}
	b.WriteString(rest)
	out := b.String()
	if strings.HasSuffix(out, "*") {
		out = strings.TrimSuffix(out, "*") + values["*"]
	}
	return out
}

// secObjects are alice's things that others aim at.
type secObjects struct {
	execution int64
	service   string
	quota     int64
}

func (o secObjects) values(e *secEnv) map[string]string {
	return map[string]string{
		"id": fmt.Sprint(o.execution), "execution": fmt.Sprint(o.execution), "service": o.service, "port": "8080",
		"user": fmt.Sprint(e.users["alice"].ID), "token": fmt.Sprint(e.tokIDs["alice"]), "quota": fmt.Sprint(o.quota),
		"zapp": "web-0", "*": "",
	}
}

// aliceRunning starts alice's web ZApp, named and parametrised with
// markup, and waits until it runs; it also creates a quota to aim at.
func (e *secEnv) aliceRunning() secObjects {
	e.t.Helper()
	alice := e.signIn("alice")
	alice.get("/shop/web-0")
	id := alice.executionID(alice.post("/shop/web-0/start", map[string][]string{
		"name": {portalXSS}, "params.GREETING": {portalXSS},
	}))
	e.waitStatus(id, store.StatusRunning)
	q := store.Quota{Name: "security", ConcurrentExecutions: 3, Memory: 8 << 30, MilliCores: 4000}
	qid, err := e.st.CreateQuota(context.Background(), &q)
	if err != nil {
		e.t.Fatal(err)
	}
	return secObjects{execution: id, service: "web0", quota: qid}
}

// secState is what an attack must not change: executions, users, tokens,
// quotas and the workspaces' files.
type secState struct {
	Executions []string
	Users      []string
	Tokens     []string
	Quotas     []store.Quota
	Files      []string
}

func (e *secEnv) state() secState {
	e.t.Helper()
	ctx := context.Background()
	var s secState
	xs, _, err := e.st.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range xs {
		s.Executions = append(s.Executions, fmt.Sprintf("%d %s %d %s", x.ID, x.Name, x.UserID, x.Status))
	}
	us, err := e.st.ListUsers(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range us {
		s.Users = append(s.Users, fmt.Sprintf("%d %s %s %s %v %v %s", u.ID, u.Username, u.Role, u.Email, u.QuotaID, u.Enabled, u.PasswordHash))
		ts, err := e.st.ListTokens(ctx, u.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, tk := range ts {
			s.Tokens = append(s.Tokens, fmt.Sprintf("%d %d %s", tk.ID, tk.UserID, tk.Name))
		}
		dir, err := e.srv.lc.Workspace(u)
		if err != nil {
			e.t.Fatal(err)
		}
		err = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
			s.Files = append(s.Files, p)
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	if s.Quotas, err = e.st.ListQuotas(ctx); err != nil {
		e.t.Fatal(err)
	}
	return s
}
