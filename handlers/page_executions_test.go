package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/store"
)

func TestPortalExecutions(t *testing.T) {
	e := newPortalEnv(t)
	alice, bob, admin := e.signIn("alice"), e.signIn("bob"), e.signIn("admin")

	alice.get("/shop/web-0")
	id := alice.executionID(alice.post("/shop/web-0/start", url.Values{
		"name":            {portalXSS},
		"params.GREETING": {"<script>alert('log')</script>"},
	}))
	path := fmt.Sprintf("/executions/%d", id)

	t.Run("status fragment polls while active", func(t *testing.T) {
		p := alice.htmx(path + "/status")
		if p.status != http.StatusOK {
			t.Fatalf("got %d", p.status)
		}
		part := p.doc.Find("#execution-status")
		if part.Length() != 1 || p.has("header.site") {
			t.Fatalf("fragment: got %q", p.body[:min(len(p.body), 200)])
		}
		if got := part.AttrOr("hx-trigger", ""); got != "every 2s" {
			t.Errorf("hx-trigger: got %q, want every 2s", got)
		}
		if got := part.AttrOr("hx-get", ""); got != path+"/status" {
			t.Errorf("hx-get: got %q", got)
		}
	})

	e.waitStatus(id, store.StatusRunning)

	t.Run("who sees it", func(t *testing.T) {
		tests := []struct {
			name   string
			c      *portalClient
			status int
		}{
			{"owner", alice, http.StatusOK},
			{"admin", admin, http.StatusOK},
			{"another user", bob, http.StatusNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, sub := range []string{"", "/status", "/logs/web0"} {
					if p := tt.c.get(path + sub); p.status != tt.status && !(sub == "/status" && tt.status == http.StatusOK) {
						t.Errorf("GET %s%s: got %d, want %d", path, sub, p.status, tt.status)
					}
				}
				if tt.status == http.StatusNotFound {
					tt.c.get("/shop")
					for _, action := range []string{"/terminate", "/delete", "/restart"} {
						if p := tt.c.post(path+action, nil); p.status != http.StatusNotFound {
							t.Errorf("POST %s%s: got %d, want 404", path, action, p.status)
						}
					}
				}
			})
		}
		if p := admin.get(path); p.text("[data-testid=owner]") != "alice" {
			t.Errorf("admin page owner: got %q, want alice", p.text("[data-testid=owner]"))
		}
	})

	t.Run("lists", func(t *testing.T) {
		tests := []struct {
			name  string
			c     *portalClient
			query string
			rows  int
			owner bool
		}{
			{"owner", alice, "", 1, false},
			{"another user", bob, "", 0, false},
			{"another user cannot filter by owner", bob, "?user=" + fmt.Sprint(e.users["alice"].ID), 0, false},
			{"admin", admin, "", 1, true},
			{"admin filters by user", admin, "?user=" + fmt.Sprint(e.users["bob"].ID), 0, true},
			{"admin filters by status", admin, "?status=running", 1, true},
			{"status filter", alice, "?status=error", 0, false},
			{"zapp filter", alice, "?zapp=web-2", 0, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := tt.c.get("/executions" + tt.query)
				if got := p.doc.Find("[data-testid=execution-row]").Length(); got != tt.rows {
					t.Errorf("rows: got %d, want %d", got, tt.rows)
				}
				if got := p.has("[data-testid=filter-user]"); got != tt.owner {
					t.Errorf("owner filter shown: got %v, want %v", got, tt.owner)
				}
			})
		}
	})

	t.Run("page shows services, endpoints and escapes names", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		var p page
		for {
			p = alice.get(path)
			if p.has("[data-testid=endpoint]") || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if strings.Contains(p.body, "<script>alert") {
			t.Errorf("an execution name reached the page as markup")
		}
		if got := p.text("[data-testid=execution-name]"); got != portalXSS {
			t.Errorf("name: got %q", got)
		}
		if got := p.doc.Find("[data-testid=endpoint]").AttrOr("href", ""); got != fmt.Sprintf("/proxy/%d/web0/8080/", id) {
			t.Errorf("endpoint: got %q (%s)", got, p.text("[data-testid=services]"))
		}
		if got := p.text("[data-testid=service-status]"); got != "active" {
			t.Errorf("service state: got %q", got)
		}
		if !p.has("[data-testid=terminate]") || p.has("[data-testid=delete]") || p.has("[data-testid=restart]") {
			t.Errorf("actions of a running execution: %s", p.text("[data-testid=actions]"))
		}
		if p.doc.Find("[data-testid=events] li").Length() == 0 {
			t.Errorf("no history")
		}
		if got := p.doc.Find("#execution-status time").First().AttrOr("datetime", ""); !strings.HasSuffix(got, "Z") {
			t.Errorf("time datetime: got %q, want RFC 3339 UTC", got)
		}
	})

	t.Run("logs are escaped text", func(t *testing.T) {
		var p page
		deadline := time.Now().Add(20 * time.Second)
		for {
			p = alice.get(path + "/logs/web0")
			if strings.Contains(p.text("[data-testid=log]"), "alert('log')") || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if !strings.Contains(p.text("[data-testid=log]"), "<script>alert('log')</script>") {
			t.Errorf("log: got %q, want the greeting as text", p.text("[data-testid=log]"))
		}
		if strings.Contains(p.body, "<script>alert") {
			t.Errorf("a log line reached the page as markup")
		}
		frag := alice.htmx(path + "/logs/web0")
		if got := frag.doc.Find("#log-tail").AttrOr("hx-trigger", ""); got != "every 3s" {
			t.Errorf("log tail of a running service: hx-trigger %q", got)
		}
		if p := alice.get(path + "/logs/nope"); p.status != http.StatusNotFound {
			t.Errorf("logs of an unknown service: got %d", p.status)
		}
	})

	t.Run("admin terminates another user's execution", func(t *testing.T) {
		admin.get(path)
		p := admin.post(path+"/terminate", nil)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != path+"?done=terminated" {
			t.Fatalf("terminate: got %d to %q", p.status, p.header.Get("Location"))
		}
		e.waitStatus(id, store.StatusTerminated)
		frag := alice.htmx(path + "/status")
		if got := frag.doc.Find("#execution-status").AttrOr("hx-trigger", "none"); got != "none" {
			t.Errorf("ended execution still polls: hx-trigger %q", got)
		}
		if got := frag.doc.Find("#execution-status").AttrOr("data-status", ""); got != store.StatusTerminated {
			t.Errorf("status: got %q", got)
		}
		page := alice.get(path)
		var actions []string
		page.doc.Find("[data-testid=actions] button, [data-testid=actions] summary").Each(func(_ int, s *goquery.Selection) {
			actions = append(actions, s.AttrOr("data-testid", ""))
		})
		if diff := cmp.Diff([]string{"restart", "delete", "delete-yes"}, actions); diff != "" {
			t.Errorf("actions of an ended execution (-want +got):\n%s", diff)
		}
	})

	t.Run("restart and delete", func(t *testing.T) {
		p := alice.post(path+"/restart", nil)
		loc := p.header.Get("Location")
		if p.status != http.StatusSeeOther || !strings.HasSuffix(loc, "?done=restarted") {
			t.Fatalf("restart: got %d to %q", p.status, loc)
		}
		var again int64
		fmt.Sscanf(loc, "/executions/%d", &again)
		x, err := e.st.Execution(context.Background(), again)
		if err != nil || x.Name != portalXSS || x.UserID != e.users["alice"].ID {
			t.Fatalf("restarted execution: %+v, %v", x, err)
		}
		if p := alice.post(fmt.Sprintf("/executions/%d/delete", again), nil); p.status != http.StatusConflict {
			t.Errorf("delete an active execution: got %d, want 409", p.status)
		}
		alice.post(fmt.Sprintf("/executions/%d/terminate", again), nil)
		if p := alice.post(path+"/delete", nil); p.status != http.StatusSeeOther || p.header.Get("Location") != "/executions?done=deleted" {
			t.Errorf("delete: got %d to %q", p.status, p.header.Get("Location"))
		}
		if p := alice.get(path); p.status != http.StatusNotFound {
			t.Errorf("deleted execution: got %d", p.status)
		}
	})

	t.Run("a failure shows why and the last lines", func(t *testing.T) {
		alice.get("/shop/web-2")
		failed := alice.executionID(alice.post("/shop/web-2/start", nil))
		e.waitStatus(failed, store.StatusError, store.StatusTerminated)
		p := alice.get(fmt.Sprintf("/executions/%d", failed))
		x, err := e.st.Execution(context.Background(), failed)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.text("[data-testid=execution-error]"); x.Status == store.StatusError && got != x.ErrorMessage {
			t.Errorf("error shown: got %q, want %q", got, x.ErrorMessage)
		}
		if got := p.text("[data-testid=service-error]") + p.text("[data-testid=execution-error]"); !strings.Contains(got, "code 3") {
			t.Errorf("the exit code is not shown: %q", got)
		}
		// The lifecycle removes a failed container with its output, so
		// the last lines can be shown only while the container exists.
		if p.has("[data-testid=failed-log]") && !strings.Contains(p.text("[data-testid=failed-log]"), "about-to-fail") {
			t.Errorf("failed log: got %q", p.text("[data-testid=failed-log]"))
		}
	})
}

func TestPortalExecutionsPagination(t *testing.T) {
	e := newPortalEnv(t)
	ctx := context.Background()
	alice := e.users["alice"]
	for i := range executionsPerPage + 3 {
		now := time.Now().Add(time.Duration(i) * time.Second)
		x := &store.Execution{Name: fmt.Sprintf("run-%02d", i), UserID: alice.ID, ZappID: "web-0", Description: []byte(portalWebZApp), Status: store.StatusTerminated, SubmittedAt: now}
		if _, err := e.st.CreateExecution(ctx, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := e.signIn("alice")
	p := c.get("/executions")
	if got := p.doc.Find("[data-testid=execution-row]").Length(); got != executionsPerPage {
		t.Errorf("first page rows: got %d, want %d", got, executionsPerPage)
	}
	next := p.doc.Find("[data-testid=next]").AttrOr("href", "")
	if next != "/executions?page=2" {
		t.Fatalf("next link: got %q", next)
	}
	p = c.get(next)
	if got := p.doc.Find("[data-testid=execution-row]").Length(); got != 3 {
		t.Errorf("second page rows: got %d, want 3", got)
	}
	if got := p.doc.Find("[data-testid=execution-link]").First().Text(); got != "run-02" {
		t.Errorf("second page starts with %q, want run-02 (newest first)", got)
	}
	if p.has("[data-testid=next]") || !p.has("[data-testid=prev]") {
		t.Errorf("second page links wrong")
	}
}

// TestExecutionStopsAt checks the "will be stopped" time of the status
// fragment: the owner's quota alone decides it, whatever their role.
func TestExecutionStopsAt(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A lifecycle that never starts: it only answers when executions stop.
	// No role has an idle timeout, so the run-time limit alone decides.
	lc := lifecycle.New(st, nil, nil, lifecycle.Config{})
	srv := New(Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: st, Lifecycle: lc})
	limited := store.Quota{Name: "two-hours", RuntimeLimit: 2 * time.Hour}
	if _, err := st.CreateQuota(ctx, &limited); err != nil {
		t.Fatal(err)
	}
	desc := []byte(`{"name":"notebook","version":3,"will_end":false,"size":1,"services":[]}`)
	tests := []struct {
		role  string
		quota *int64
		want  time.Duration // 0: no stop time
	}{
		{"user", nil, 0},
		{"user", &limited.ID, 2 * time.Hour},
		{"guest", &limited.ID, 2 * time.Hour},
		{"admin", nil, 0},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s, quota %v", tt.role, tt.quota != nil), func(t *testing.T) {
			u := store.User{Username: fmt.Sprintf("u%d", i), Role: tt.role, Source: "builtin", Enabled: true, QuotaID: tt.quota}
			if _, err := st.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			id, err := benchExecution(ctx, st, u.ID, desc, i, store.StatusRunning, 8888)
			if err != nil {
				t.Fatal(err)
			}
			e, err := st.Execution(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			checkStop(t, srv, e, tt.want)
			// The status reads the store once per change: a new limit
			// shows at the next poll.
			if tt.quota != nil {
				limited.RuntimeLimit = 3 * time.Hour
				if err := st.UpdateQuota(ctx, limited); err != nil {
					t.Fatal(err)
				}
				checkStop(t, srv, e, 3*time.Hour)
				limited.RuntimeLimit = 2 * time.Hour
				if err := st.UpdateQuota(ctx, limited); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkStop checks the stop time that the status of e shows: want after
// its start, 0 for none.
func checkStop(t *testing.T, srv *Server, e store.Execution, want time.Duration) {
	t.Helper()
	snap, err := srv.snapshot(context.Background(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.executionStatusView(context.Background(), snap)
	switch {
	case want == 0 && got.StopsAt != nil:
		t.Errorf("got a stop time %v, want none", *got.StopsAt)
	case want != 0 && (got.StopsAt == nil || !got.StopsAt.Equal(e.StartedAt.Add(want))):
		t.Errorf("got stop time %v, want %v", got.StopsAt, e.StartedAt.Add(want))
	}
}
