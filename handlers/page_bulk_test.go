package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

func TestPortalBulkTerminate(t *testing.T) {
	e := newPortalEnv(t)
	alice, bob, admin := e.signIn("alice"), e.signIn("bob"), e.signIn("admin")

	alice.get("/shop/web-0")
	aliceRun := alice.executionID(alice.post("/shop/web-0/start", nil))
	bob.get("/shop/web-0")
	bobRun := bob.executionID(bob.post("/shop/web-0/start", nil))
	start := time.Now().Add(-time.Hour)
	end := start.Add(time.Minute)
	bobEnded, err := e.st.CreateExecution(context.Background(), &store.Execution{Name: "old", UserID: e.users["bob"].ID, Status: store.StatusTerminated, StartedAt: &start, EndedAt: &end}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const forged = 987654
	e.waitStatus(aliceRun, store.StatusRunning)
	e.waitStatus(bobRun, store.StatusRunning)
	ids := func(xs ...int64) url.Values {
		v := url.Values{}
		for _, x := range xs {
			v.Add("id", fmt.Sprint(x))
		}
		return v
	}
	stillActive := func(t *testing.T) {
		t.Helper()
		for _, id := range []int64{aliceRun, bobRun} {
			x, err := e.st.Execution(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !store.IsActive(x.Status) {
				t.Errorf("execution %d: got %s, want still active", id, x.Status)
			}
		}
	}

	t.Run("admins get checkboxes on active rows, users none", func(t *testing.T) {
		p := admin.get("/executions")
		var got []string
		for _, s := range p.doc.Find("[data-testid=select]").EachIter() {
			got = append(got, s.AttrOr("value", "")+" "+s.AttrOr("form", ""))
		}
		want := []string{fmt.Sprintf("%d bulk-terminate", bobRun), fmt.Sprintf("%d bulk-terminate", aliceRun)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("checkboxes (-want +got):\n%s", diff)
		}
		if form := p.doc.Find("form#bulk-terminate"); form.AttrOr("action", "") != "/executions/terminate" || form.Find("input[name=csrf_token]").Length() != 1 {
			t.Errorf("bulk form: got action %q", form.AttrOr("action", ""))
		}
		if p := alice.get("/executions"); p.has("[data-testid=select]") || p.has("#bulk-terminate") {
			t.Errorf("a user's list offers bulk termination")
		}
	})

	t.Run("users are refused", func(t *testing.T) {
		alice.get("/executions")
		form := ids(aliceRun, bobRun)
		form.Set("confirm", "yes")
		if p := alice.post("/executions/terminate", form); p.status != http.StatusForbidden {
			t.Errorf("got %d, want 403", p.status)
		}
		stillActive(t)
	})

	t.Run("CSRF token required", func(t *testing.T) {
		form := ids(aliceRun, bobRun)
		form.Set("confirm", "yes")
		form.Set("csrf_token", "")
		if p := admin.post("/executions/terminate", form); p.status != http.StatusForbidden {
			t.Errorf("without token: got %d, want 403", p.status)
		}
		form.Set("csrf_token", bob.csrf)
		if p := admin.post("/executions/terminate", form); p.status != http.StatusForbidden {
			t.Errorf("with another session's token: got %d, want 403", p.status)
		}
		stillActive(t)
	})

	t.Run("nothing selected", func(t *testing.T) {
		admin.get("/executions")
		if p := admin.post("/executions/terminate", nil); p.status != http.StatusUnprocessableEntity {
			t.Errorf("got %d, want 422", p.status)
		}
	})

	t.Run("asks first", func(t *testing.T) {
		admin.get("/executions")
		form := ids(aliceRun, bobRun, bobEnded, forged, aliceRun)
		form.Add("id", "not-a-number")
		p := admin.post("/executions/terminate", form)
		if p.status != http.StatusOK {
			t.Fatalf("got %d, want 200", p.status)
		}
		if diff := cmp.Diff([]int64{aliceRun, bobRun}, p.ids("[data-testid=bulk-row]")); diff != "" {
			t.Errorf("listed (-want +got):\n%s", diff)
		}
		if got := p.text("[data-testid=bulk-missing]"); got != "2 selected executions no longer exist." {
			t.Errorf("missing: got %q", got)
		}
		if got := p.text("[data-testid=bulk-ended]"); got != "1 selected execution has ended already." {
			t.Errorf("ended: got %q", got)
		}
		confirm := p.doc.Find("form[data-testid=bulk-confirm]")
		var hidden []string
		for _, s := range confirm.Find("input[type=hidden]").EachIter() {
			if n := s.AttrOr("name", ""); n != "csrf_token" {
				hidden = append(hidden, n+"="+s.AttrOr("value", ""))
			}
		}
		wantHidden := []string{"confirm=yes", fmt.Sprintf("id=%d", aliceRun), fmt.Sprintf("id=%d", bobRun)}
		if diff := cmp.Diff(wantHidden, hidden); diff != "" {
			t.Errorf("confirmation form (-want +got):\n%s", diff)
		}
		stillActive(t)
	})

	t.Run("terminates and reports", func(t *testing.T) {
		admin.get("/executions")
		form := ids(aliceRun, bobRun, bobEnded, forged)
		form.Set("confirm", "yes")
		p := admin.post("/executions/terminate", form)
		loc := p.header.Get("Location")
		if p.status != http.StatusSeeOther {
			t.Fatalf("got %d, want 303", p.status)
		}
		e.waitStatus(aliceRun, store.StatusTerminated)
		e.waitStatus(bobRun, store.StatusTerminated)
		if got, want := admin.get(loc).text("[data-testid=flash]"), "2 terminated, 1 was not active, 1 was not found."; got != want {
			t.Errorf("flash: got %q, want %q", got, want)
		}
		x, err := e.st.Execution(context.Background(), bobRun)
		if err != nil {
			t.Fatal(err)
		}
		if want := "terminated by admin from the portal"; x.ErrorMessage != want {
			t.Errorf("reason: got %q, want %q", x.ErrorMessage, want)
		}
	})
}
