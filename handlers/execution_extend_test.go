package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// TestExecutionExtend shows when a running execution stops and why, and
// lets its owner or an admin push an idle deadline, but never the
// run-time limit, never for someone else's execution, never without CSRF.
func TestExecutionExtend(t *testing.T) {
	e := newPortalEnv(t)
	ctx := context.Background()
	alice, bob, admin := e.signIn("alice"), e.signIn("bob"), e.signIn("admin")
	alice.get("/shop/web-0")
	id := alice.executionID(alice.post("/shop/web-0/start", url.Values{"name": {"extend me"}}))
	path := fmt.Sprintf("/executions/%d", id)
	x := e.waitStatus(id, store.StatusRunning)
	if x.IdleTimeout == nil || *x.IdleTimeout != 30*time.Minute {
		t.Fatalf("got recorded idle timeout %v, want the ZApp's 30m", x.IdleTimeout)
	}

	p := alice.get(path)
	if got := p.text("[data-testid=stop-reason]"); got != "if unused: idle timeout of 30m0s" {
		t.Errorf("got stop reason %q, want the idle timeout", got)
	}
	if at, _ := p.doc.Find("[data-testid=stops-at] time").Attr("datetime"); at == "" {
		t.Error("got no machine-readable stop time for the viewer's time zone")
	}
	if !p.has("[data-testid=extend]") {
		t.Error("got no Extend button for the owner")
	}
	// The button is in the live part, so that it appears by itself when a
	// starting execution begins to run.
	if f := alice.htmx(path + "/status"); !f.has("[data-testid=execution-status] form:has([data-testid=extend]) input[name=csrf_token]") {
		t.Error("got no Extend form with its CSRF token in the live status")
	}

	t.Run("another user gets 404", func(t *testing.T) {
		bob.get("/executions")
		if p := bob.post(path+"/extend", nil); p.status != http.StatusNotFound {
			t.Errorf("got %d, want 404", p.status)
		}
	})
	t.Run("without CSRF it is refused", func(t *testing.T) {
		if p := alice.post(path+"/extend", url.Values{"csrf_token": {""}}); p.status != http.StatusForbidden {
			t.Errorf("got %d, want 403", p.status)
		}
		if x, _ := e.st.Execution(ctx, id); x.LastActiveAt != nil {
			t.Errorf("got an extension recorded at %v", x.LastActiveAt)
		}
	})
	for _, c := range []struct {
		name string
		c    *portalClient
	}{{"owner", alice}, {"admin", admin}} {
		t.Run(c.name+" extends", func(t *testing.T) {
			before, _ := e.st.Execution(ctx, id)
			c.c.get(path)
			p := c.c.post(path+"/extend", nil)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != path+"?done=extended" {
				t.Fatalf("got %d to %q, want 303 to %s?done=extended", p.status, p.header.Get("Location"), path)
			}
			// Each extension moves the recorded use forward: the admin's
			// after the owner's too.
			x, _ := e.st.Execution(ctx, id)
			if x.LastActiveAt == nil || before.LastActiveAt != nil && !x.LastActiveAt.After(*before.LastActiveAt) {
				t.Errorf("got last use %v after extending, want later than %v", x.LastActiveAt, before.LastActiveAt)
			}
		})
	}

	t.Run("API", func(t *testing.T) {
		var got struct {
			StopsAt struct {
				Reason     string `json:"reason"`
				Idle       int64  `json:"idle_timeout_seconds"`
				Extendable bool   `json:"extendable"`
			} `json:"stops_at"`
			Links map[string]string `json:"links"`
		}
		res := apiCall(t, e, "alice", http.MethodPost, "/api/v1"+path+"/extend", &got)
		if res != http.StatusOK || got.StopsAt.Reason != "idle" || got.StopsAt.Idle != 1800 || !got.StopsAt.Extendable || got.Links["extend"] == "" {
			t.Errorf("got %d %+v, want 200 with an extendable idle stop", res, got)
		}
		if res := apiCall(t, e, "bob", http.MethodPost, "/api/v1"+path+"/extend", nil); res != http.StatusNotFound {
			t.Errorf("another user: got %d, want 404", res)
		}
	})

	t.Run("the run-time limit cannot be extended", func(t *testing.T) {
		q := store.Quota{Name: "short", RuntimeLimit: 10 * time.Minute}
		if _, err := e.st.CreateQuota(ctx, &q); err != nil {
			t.Fatal(err)
		}
		u := e.users["alice"]
		u.QuotaID = &q.ID
		if err := e.st.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		p := alice.get(path)
		if got := p.text("[data-testid=stop-reason]"); got != "run-time limit of 10m0s" {
			t.Errorf("got stop reason %q, want the run-time limit", got)
		}
		if p.has("[data-testid=extend]") {
			t.Error("got an Extend button when the run-time limit comes first")
		}
		p = alice.post(path+"/extend", nil)
		if p.status != http.StatusConflict || !strings.Contains(p.body, "the run-time limit of 10m0s stops it first") {
			t.Errorf("got %d, want 409 naming the run-time limit", p.status)
		}
		if res := apiCall(t, e, "alice", http.MethodPost, "/api/v1"+path+"/extend", nil); res != http.StatusConflict {
			t.Errorf("API: got %d, want 409", res)
		}
	})
}

// apiCall calls the JSON API as user with HTTP Basic and decodes the
// answer into out when it is not nil.
func apiCall(t *testing.T, e *portalEnv, user, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, portalPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}
