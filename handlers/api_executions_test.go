package handlers

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

func TestAPIExecutionCreateRefusals(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	tiny := store.Quota{Name: "tiny", Memory: 16 << 20}
	if _, err := e.st.CreateQuota(ctx, &tiny); err != nil {
		t.Fatal(err)
	}
	carol := e.addUser("carol", "user")
	carol.QuotaID = &tiny.ID
	if err := e.st.UpdateUser(ctx, carol); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		who    string
		body   string
		status int
		code   string
		fields []string
	}{
		{"unknown field", "alice", `{"name": "x", "zap": "web-0"}`, 400, "bad_request", []string{"zap"}},
		{"bad JSON", "alice", `{"name": `, 400, "bad_request", nil},
		{"not an object", "alice", `[1]`, 400, "bad_request", nil},
		{"two objects", "alice", `{"zapp": "web-0"} {}`, 400, "bad_request", nil},
		{"wrong type", "alice", `{"name": 3, "zapp": "web-0"}`, 400, "bad_request", []string{"name"}},
		{"empty body", "alice", ``, 400, "bad_request", nil},
		{"neither zapp nor description", "alice", `{"name": "x"}`, 422, "validation", []string{"zapp"}},
		{"both", "alice", `{"zapp": "web-0", "description": {}}`, 422, "validation", []string{"description"}},
		{"bad sizes name every field", "alice", `{"zapp": "web-0", "resources": {"web": {"memory": "lots", "cores": "many"}}, "parameters": {"GREETING": [1]}}`,
			422, "validation", []string{"parameters.GREETING", "resources.web.memory", "resources.web.cores"}},
		{"parameter out of range", "alice", `{"zapp": "web-0", "parameters": {"web.count": 9}}`, 422, "validation", []string{"params.web.count"}},
		{"unknown ZApp", "alice", `{"zapp": "nope-0"}`, 404, "not_found", nil},
		{"ZApp hidden from users", "alice", `{"zapp": "web-1"}`, 404, "not_found", nil},
		{"invalid description", "alice", `{"description": {"name": "x", "version": 2, "services": []}}`, 422, "validation", nil},
		{"host volume in a user description", "alice", `{"description": ` + strings.Replace(apiCustomZApp, `"volumes": []`, `"volumes": [{"name": "etc", "path": "/etc", "read_only": true}]`, 1) + `}`, 422, "validation", nil},
		{"over quota", "carol", `{"zapp": "web-0"}`, 409, "quota", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eb := apiExpectError(t, e.do(tt.who, "POST", "/api/v1/executions", tt.body), tt.status, tt.code, "")
			var got []string
			if tt.status == 422 {
				for _, f := range eb.Error.Fields {
					got = append(got, f.Field)
				}
			} else if eb.Error.Field != "" {
				got = []string{eb.Error.Field}
			}
			for _, want := range tt.fields {
				if !strings.Contains(","+strings.Join(got, ",")+",", ","+want+",") {
					t.Errorf("got fields %v, want %s among them (body %s)", got, want, eb.Error.Message)
				}
			}
			if tt.status == 422 && len(eb.Error.Fields) == 0 {
				t.Errorf("got no field list in a validation error")
			}
		})
	}
	t.Run("quota message names the numbers", func(t *testing.T) {
		eb := apiExpectError(t, e.do("carol", "POST", "/api/v1/executions", `{"zapp": "web-0"}`), 409, "quota", "")
		if !strings.Contains(eb.Error.Message, "memory") || !strings.Contains(eb.Error.Message, "16 MiB") {
			t.Errorf("got message %q, want the memory quota and its limit", eb.Error.Message)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		big := `{"name": "` + strings.Repeat("x", apiMaxBody) + `"}`
		apiExpectError(t, e.do("alice", "POST", "/api/v1/executions", big), http.StatusRequestEntityTooLarge, "too_large", "")
	})
	n, _, err := e.st.ListExecutions(ctx, store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 0 {
		t.Errorf("got %d executions recorded by refused requests, want 0", len(n))
	}
}

// TestAPIExecutionLifecycle starts real containers: from the shop with
// parameters and resources, and from a description.
func TestAPIExecutionLifecycle(t *testing.T) {
	e := newAPIEnv(t)
	r := e.do("alice", "POST", "/api/v1/executions", `{"name": "my web", "zapp": "web-0", "parameters": {"GREETING": "bonjour-zoe"}, "resources": {"web": {"memory": "48MiB", "cores": 0.5}}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: got status %d, want 201 (body %s)", r.status, r.body)
	}
	var x apiExecutionJSON
	var created struct {
		ID       int64            `json:"id"`
		Owner    string           `json:"owner"`
		ZApp     string           `json:"zapp"`
		Memory   int64            `json:"memory"`
		Human    string           `json:"memory_human"`
		Cores    float64          `json:"cores"`
		Services []apiServiceJSON `json:"services"`
	}
	r.json(t, &created)
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/api/v1/executions/%d", created.ID) {
		t.Errorf("got Location %q, want the execution's URL", loc)
	}
	if created.Owner != "alice" || created.ZApp != "web-0" || created.Memory != 48<<20 || created.Human != "48 MiB" || created.Cores != 0.5 {
		t.Errorf("got %+v, want alice's web-0 reserving 48 MiB and 0.5 cores", created)
	}
	if len(created.Services) != 1 || created.Services[0].Name != "web0" {
		t.Fatalf("got services %+v, want web0", created.Services)
	}
	id := created.ID
	path := fmt.Sprintf("/api/v1/executions/%d", id)
	e.waitStatus(id, store.StatusRunning)

	t.Run("detail with endpoints and history", func(t *testing.T) {
		r := e.do("alice", "GET", path, nil)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", r.status)
		}
		r.json(t, &x)
		if x.StartedAt == nil || x.Status != store.StatusRunning {
			t.Errorf("got status %q started %v, want running with a start time", x.Status, x.StartedAt)
		}
		sv := x.Services[0]
		if sv.Host != "h1" || sv.Status != store.ServiceActive || len(sv.Endpoints) != 1 {
			t.Fatalf("got service %+v, want web0 active on h1 with one endpoint", sv)
		}
		ep := sv.Endpoints[0]
		wantProxy := fmt.Sprintf("/proxy/%d/web0/8080/", id)
		if ep.ProxyPath != wantProxy || !strings.HasPrefix(ep.URL, "http://127.0.0.1:") || !strings.HasSuffix(ep.URL, wantProxy) {
			t.Errorf("got endpoint %+v, want url http://127.0.0.1:PORT%s", ep, wantProxy)
		}
		if len(x.History) == 0 {
			t.Errorf("got no history")
		}
		if !strings.Contains(string(r.body), `"submitted_at": "`) || !strings.Contains(string(r.body), `Z"`) {
			t.Errorf("times are not RFC 3339 UTC: %s", r.body)
		}
	})
	t.Run("others get 404", func(t *testing.T) {
		for _, rt := range []struct{ method, path string }{
			{"GET", path}, {"POST", path + "/terminate"}, {"POST", path + "/restart"}, {"DELETE", path},
			{"GET", path + "/services/web0/logs"},
		} {
			apiExpectError(t, e.do("bob", rt.method, rt.path, nil), http.StatusNotFound, "not_found", "")
		}
	})
	t.Run("admins see it", func(t *testing.T) {
		if r := e.do("admin", "GET", path, nil); r.status != http.StatusOK {
			t.Errorf("got status %d, want 200", r.status)
		}
	})
	t.Run("unknown ids", func(t *testing.T) {
		for _, p := range []string{"/api/v1/executions/999999", "/api/v1/executions/abc", "/api/v1/executions/-1"} {
			apiExpectError(t, e.do("alice", "GET", p, nil), http.StatusNotFound, "not_found", "")
		}
		apiExpectError(t, e.do("alice", "GET", path+"/services/nope/logs", nil), http.StatusNotFound, "not_found", "service")
	})
	t.Run("deleting an active execution", func(t *testing.T) {
		apiExpectError(t, e.do("alice", "DELETE", path, nil), http.StatusConflict, "not_ended", "")
	})
	t.Run("logs", func(t *testing.T) {
		r := e.do("alice", "GET", path+"/services/web0/logs?tail=10", nil)
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("got %d %q, want 200 text/plain", r.status, r.header.Get("Content-Type"))
		}
		if !strings.HasPrefix(string(r.body), "bonjour-zoe\n") {
			t.Errorf("got logs %q, want the greeting parameter's value first, without a timestamp", r.body)
		}
		r = e.do("alice", "GET", path+"/services/web0/logs?timestamps=1", nil)
		if ts, _, _ := strings.Cut(string(r.body), " "); !strings.HasPrefix(ts, "20") || !strings.HasSuffix(ts, "Z") {
			t.Errorf("got logs %q, want a timestamp first", r.body)
		}
		apiExpectError(t, e.do("alice", "GET", path+"/services/web0/logs?tail=x", nil), http.StatusBadRequest, "bad_request", "tail")
	})

	// A second execution from a description, whose output keeps coming.
	r = e.do("alice", "POST", "/api/v1/executions", `{"name": "loop", "description": `+apiCustomZApp+`}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create from description: got status %d, want 201 (body %s)", r.status, r.body)
	}
	var loop apiExecutionJSON
	r.json(t, &loop)
	if loop.Name != "loop" || loop.ZApp != "" {
		t.Errorf("got name %q zapp %q, want loop without a shop ZApp", loop.Name, loop.ZApp)
	}
	e.waitStatus(loop.ID, store.StatusRunning)
	loopPath := fmt.Sprintf("/api/v1/executions/%d", loop.ID)

	t.Run("follow streams and stops when the client leaves", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+loopPath+"/services/loop0/logs?follow=1&tail=1", nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["alice"])
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var lines []string
		deadline := time.AfterFunc(20*time.Second, cancel)
		defer deadline.Stop()
		for len(lines) < 4 && sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) < 4 || !strings.HasPrefix(lines[3], "line-") {
			t.Fatalf("got lines %q, want at least 4 streamed lines", lines)
		}
		cancel()
	})

	t.Run("list filters and pages", func(t *testing.T) {
		list := func(who, query string) (apiExecutionList, apiResponse) {
			r := e.do(who, "GET", "/api/v1/executions"+query, nil)
			var l apiExecutionList
			if r.status == http.StatusOK {
				r.json(t, &l)
			}
			return l, r
		}
		tests := []struct {
			who, query string
			total      int
		}{
			{"alice", "", 2},
			{"alice", "?status=running", 2},
			{"alice", "?status=terminated,error", 0},
			{"alice", "?status=terminated&status=running", 2},
			{"alice", "?status=active", 2},
			{"alice", "?zapp=web-0", 1},
			{"alice", "?user=alice", 2},
			{"alice", "?since=2000-01-01T00:00:00Z", 2},
			{"alice", "?since=2999-01-01T00:00:00Z", 0},
			{"bob", "", 0},
			{"admin", "", 2},
			{"admin", "?user=bob", 0},
			{"admin", "?user=alice", 2},
		}
		for _, tt := range tests {
			l, r := list(tt.who, tt.query)
			if r.status != http.StatusOK || l.Total != tt.total || len(l.Executions) != tt.total {
				t.Errorf("%s %q: got status %d total %d (%d listed), want 200 and %d", tt.who, tt.query, r.status, l.Total, len(l.Executions), tt.total)
			}
		}
		l, _ := list("alice", "?limit=1")
		if len(l.Executions) != 1 || l.Executions[0].ID != loop.ID || l.Next == "" {
			t.Fatalf("page 1: got %+v, want the newest execution and a next link", l)
		}
		r := e.do("alice", "GET", l.Next, nil)
		var p2 apiExecutionList
		r.json(t, &p2)
		if len(p2.Executions) != 1 || p2.Executions[0].ID != id || p2.Next != "" || p2.Offset != 1 {
			t.Errorf("page 2: got %+v, want the older execution and no next link", p2)
		}
		for _, bad := range []struct{ query, field string }{
			{"?status=bogus", "status"}, {"?since=yesterday", "since"}, {"?limit=0", "limit"}, {"?limit=x", "limit"},
			{"?offset=-1", "offset"}, {"?user=nobody", "user"},
		} {
			who := "admin"
			apiExpectError(t, e.do(who, "GET", "/api/v1/executions"+bad.query, nil), http.StatusBadRequest, "bad_request", bad.field)
		}
		apiExpectError(t, e.do("bob", "GET", "/api/v1/executions?user=alice", nil), http.StatusForbidden, "forbidden", "")
	})

	t.Run("scheduler", func(t *testing.T) {
		var s apiSchedulerJSON
		e.do("bob", "GET", "/api/v1/scheduler", nil).json(t, &s)
		if len(s.Running) != 0 {
			t.Errorf("bob: got %d running executions of others, want none shown", len(s.Running))
		}
		e.do("admin", "GET", "/api/v1/scheduler", nil).json(t, &s)
		if len(s.Running) != 2 || len(s.Hosts) != 1 {
			t.Fatalf("admin: got %d running and %d hosts, want 2 and 1", len(s.Running), len(s.Hosts))
		}
		h := s.Hosts[0]
		if h.Name != "h1" || !h.Online || h.ReservedMemory != 48<<20+16<<20 || h.Services != 2 || h.FreeMemory != h.Memory-h.ReservedMemory {
			t.Errorf("got host %+v, want h1 online with 64 MiB reserved by 2 services", h)
		}
		if s.Counters.Submitted < 2 || s.Counters.ByStatus[store.StatusRunning] != 2 {
			t.Errorf("got counters %+v, want 2 submitted and 2 running", s.Counters)
		}
	})

	t.Run("terminate, restart, delete", func(t *testing.T) {
		r := e.do("alice", "POST", path+"/terminate", nil)
		if r.status != http.StatusAccepted {
			t.Fatalf("terminate: got status %d, want 202 (body %s)", r.status, r.body)
		}
		e.waitStatus(id, store.StatusTerminated)
		apiExpectError(t, e.do("alice", "POST", path+"/terminate", nil), http.StatusConflict, "not_active", "")
		if r := e.do("alice", "GET", path+"/services/web0/logs", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "bonjour-zoe") {
			t.Errorf("kept logs: got %d %q, want 200 with the greeting", r.status, r.body)
		}
		apiExpectError(t, e.do("admin", "POST", path+"/restart", nil), http.StatusForbidden, "forbidden", "")

		r = e.do("alice", "POST", path+"/restart", nil)
		if r.status != http.StatusCreated {
			t.Fatalf("restart: got status %d, want 201 (body %s)", r.status, r.body)
		}
		var again apiExecutionJSON
		r.json(t, &again)
		if again.ID == id || again.Name != "my web" || again.Memory != 48<<20 {
			t.Errorf("restart: got %+v, want a new execution with the same name and resources", again)
		}
		if r := e.do("alice", "DELETE", path, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: got status %d, want 204 (body %s)", r.status, r.body)
		}
		apiExpectError(t, e.do("alice", "GET", path, nil), http.StatusNotFound, "not_found", "")
		for _, x := range []int64{again.ID, loop.ID} {
			if r := e.do("admin", "POST", fmt.Sprintf("/api/v1/executions/%d/terminate", x), nil); r.status != http.StatusAccepted {
				t.Errorf("admin terminates %d: got status %d, want 202", x, r.status)
			}
		}
	})
}
