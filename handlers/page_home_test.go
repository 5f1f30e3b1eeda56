package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

// ids lists the data-id of the rows sel matches, in page order.
func (p page) ids(sel string) []int64 {
	var out []int64
	for _, s := range p.doc.Find(sel).EachIter() {
		id, _ := strconv.ParseInt(s.AttrOr("data-id", ""), 10, 64)
		out = append(out, id)
	}
	return out
}

func TestPortalHome(t *testing.T) {
	e := newPortalEnv(t)
	ctx := context.Background()
	alice, bob, gus, admin := e.signIn("alice"), e.signIn("bob"), e.signIn("gus"), e.signIn("admin")

	alice.get("/shop/web-0")
	aliceRun := alice.executionID(alice.post("/shop/web-0/start", nil))
	bob.get("/shop/web-0")
	bobRun := bob.executionID(bob.post("/shop/web-0/start", nil))

	// Twelve ended executions for alice, one each for bob and gus.
	ended := func(user string, i int) int64 {
		t.Helper()
		start := time.Date(2024, 3, 1, i, 0, 0, 0, time.UTC)
		end := start.Add(30 * time.Minute)
		x := &store.Execution{Name: fmt.Sprintf("%s-old-%d", user, i), UserID: e.users[user].ID, ZappID: "web-0", Status: store.StatusTerminated, StartedAt: &start, EndedAt: &end}
		id, err := e.st.CreateExecution(ctx, x, nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	var aliceEnded []int64
	for i := range 12 {
		aliceEnded = append(aliceEnded, ended("alice", i))
	}
	bobEnded, gusEnded := ended("bob", 0), ended("gus", 0)

	e.waitStatus(aliceRun, store.StatusRunning)
	e.waitStatus(bobRun, store.StatusRunning)

	t.Run("each sees their own", func(t *testing.T) {
		newest := func(ids []int64, n int) []int64 {
			var out []int64
			for i := len(ids) - 1; i >= 0 && len(out) < n; i-- {
				out = append(out, ids[i])
			}
			return out
		}
		tests := []struct {
			name    string
			c       *portalClient
			running []int64
			recent  []int64
		}{
			{"alice", alice, []int64{aliceRun}, newest(aliceEnded, 10)},
			{"bob", bob, []int64{bobRun}, []int64{bobEnded}},
			{"a guest", gus, nil, []int64{gusEnded}},
			{"an admin: their own only", admin, nil, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := tt.c.get("/")
				if p.status != http.StatusOK {
					t.Fatalf("got %d, want 200", p.status)
				}
				if diff := cmp.Diff(tt.running, p.ids("[data-testid=running-row]")); diff != "" {
					t.Errorf("running (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.recent, p.ids("[data-testid=recent-row]")); diff != "" {
					t.Errorf("recent (-want +got):\n%s", diff)
				}
				if len(tt.running) == 0 && !p.has("[data-testid=no-running]") {
					t.Errorf("no running executions, and no word saying so")
				}
				for _, sel := range []string{"[data-testid=quota]", "a[href='/shop'][data-testid=shop-link]", "a[href='/workspace'][data-testid=workspace-link]"} {
					if !p.has(sel) {
						t.Errorf("missing %s", sel)
					}
				}
			})
		}
	})

	t.Run("running executions get their Open button", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			p := alice.get("/")
			if href := p.doc.Find("[data-testid=endpoint]").AttrOr("href", ""); href != "" {
				if want := fmt.Sprintf("/proxy/%d/web0/8080/", aliceRun); href != want {
					t.Errorf("Open: got %q, want %q", href, want)
				}
				if got := p.text("[data-testid=running-row] [data-testid=status]"); got != store.StatusRunning {
					t.Errorf("status: got %q, want running", got)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no Open button after 30 s: %s", p.text("[data-testid=running]"))
			}
			time.Sleep(300 * time.Millisecond)
		}
	})

	t.Run("the running list polls while something runs", func(t *testing.T) {
		p := alice.htmx("/")
		part := p.doc.Find("#home-running")
		if p.status != http.StatusOK || part.Length() != 1 || p.has("header.site") || p.has("[data-testid=recent]") {
			t.Fatalf("fragment: got %d %.200q", p.status, p.body)
		}
		if got := part.AttrOr("hx-trigger", ""); got != "every 5s" {
			t.Errorf("hx-trigger: got %q, want every 5s", got)
		}
		if p := gus.htmx("/"); p.doc.Find("#home-running").AttrOr("hx-trigger", "") != "" {
			t.Errorf("guest with nothing running: the list polls")
		}
	})

	t.Run("once it ends it leaves the running list", func(t *testing.T) {
		alice.get("/")
		if p := alice.post(fmt.Sprintf("/executions/%d/terminate", aliceRun), nil); p.status != http.StatusSeeOther {
			t.Fatalf("terminate: got %d", p.status)
		}
		e.waitStatus(aliceRun, store.StatusTerminated)
		p := alice.get("/")
		if got := p.ids("[data-testid=running-row]"); len(got) != 0 {
			t.Errorf("running: got %v, want none", got)
		}
		if got := p.ids("[data-testid=recent-row]"); len(got) == 0 || got[0] != aliceRun {
			t.Errorf("recent: got %v, want %d first", got, aliceRun)
		}
		if got := p.doc.Find("#home-running").AttrOr("hx-trigger", ""); got != "" {
			t.Errorf("hx-trigger with nothing running: got %q, want none", got)
		}
	})
}
