package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// TestProxySeparateOrigin follows the handoff: the portal vouches for its
// user with a one-time ticket, the proxy origin turns it into a session of
// its own, and the portal's session is worth nothing there.
func TestProxySeparateOrigin(t *testing.T) {
	e := newProxyEnv(t, true)
	b := newBackend(t)
	id := e.running(e.owner, b)
	next := webPath(id, "page?x=1")
	login := "/proxy-login?next=" + url.QueryEscape(next)
	owner := e.client(&e.owner)

	// The portal does not serve services any more: it sends browsers
	// through the handoff.
	res, _ := do(t, owner, "GET", e.portal.URL+next, nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != login {
		t.Fatalf("portal: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), login)
	}
	if res, _ := do(t, owner, "POST", e.portal.URL+next, nil, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("portal POST: got %d, want 404", res.StatusCode)
	}

	// The portal's cookie reaches the proxy's port (cookies ignore ports)
	// but signs nobody in there.
	res, _ = do(t, owner, "GET", e.services.URL+next, nil, nil)
	if want := e.portal.URL + login; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Fatalf("proxy origin before the handoff: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), want)
	}
	if b.hits.Load() != 0 {
		t.Fatal("the service was reached before the handoff")
	}

	res, _ = do(t, owner, "GET", e.portal.URL+login, nil, nil)
	ticketURL := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(ticketURL, e.services.URL+"/_zoe/auth?ticket=") {
		t.Fatalf("proxy-login: got %d to %q, want 303 to the proxy origin's /_zoe/auth", res.StatusCode, ticketURL)
	}
	res, _ = do(t, owner, "GET", ticketURL, nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != next {
		t.Fatalf("ticket: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), next)
	}
	res, body := do(t, owner, "GET", e.services.URL+webPath(id, "echo"), nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("after the handoff: got %d %q, want the service", res.StatusCode, body)
	}
	if strings.Contains(body, "zoe_") {
		t.Errorf("the service got Zoe's cookies: %s", body)
	}
	if res, _ := do(t, owner, "GET", ticketURL, nil, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("ticket used twice: got %d, want 403", res.StatusCode)
	}

	t.Run("websocket", func(t *testing.T) {
		u, _ := url.Parse(e.services.URL)
		ws, res := wsDial(t, e.services.URL+webPath(id, "ws"), http.Header{"Cookie": {cookieHeader(owner.Jar.Cookies(u))}})
		if ws == nil {
			t.Fatalf("got handshake status %d, want 101", res.StatusCode)
		}
		ws.send(t, "ping")
		if got := ws.receive(t, 5*time.Second); got != "ping" {
			t.Fatalf("got %q back, want ping", got)
		}
	})
	t.Run("expired ticket", func(t *testing.T) {
		c := e.client(&e.owner)
		res, _ := do(t, c, "GET", e.portal.URL+login, nil, nil)
		now := time.Now().Add(ticketLifetime + time.Second)
		e.srv.px.setClock(func() time.Time { return now })
		defer e.srv.px.setClock(nil)
		if res, _ := do(t, c, "GET", res.Header.Get("Location"), nil, nil); res.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", res.StatusCode)
		}
	})
	t.Run("forged ticket", func(t *testing.T) {
		if res, _ := do(t, e.client(nil), "GET", e.services.URL+"/_zoe/auth?ticket=forged", nil, nil); res.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", res.StatusCode)
		}
	})
	t.Run("other user", func(t *testing.T) {
		if res, _ := do(t, e.client(&e.other), "GET", e.portal.URL+login, nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("got %d, want 404", res.StatusCode)
		}
	})
	t.Run("visitor", func(t *testing.T) {
		res, _ := do(t, e.client(nil), "GET", e.portal.URL+login, nil, nil)
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Fatalf("got %d to %q, want 303 to sign in", res.StatusCode, loc)
		}
		if res, _ := do(t, e.client(nil), "PUT", e.services.URL+next, nil, nil); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("PUT on the proxy origin: got %d, want 401", res.StatusCode)
		}
	})
	t.Run("no portal pages", func(t *testing.T) {
		if res, _ := do(t, owner, "GET", e.services.URL+"/executions", nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("got %d, want 404", res.StatusCode)
		}
	})
	t.Run("portal sign-out ends it", func(t *testing.T) {
		c := e.client(&e.owner)
		res, _ := do(t, c, "GET", e.portal.URL+login, nil, nil)
		do(t, c, "GET", res.Header.Get("Location"), nil, nil)
		if res, body := do(t, c, "GET", e.services.URL+next, nil, nil); res.StatusCode != http.StatusOK {
			t.Fatalf("after the handoff: got %d %q, want the service", res.StatusCode, body)
		}
		// The sign-out form's token, as a portal page would carry it.
		req := httptest.NewRequest(http.MethodGet, e.portal.URL+"/", nil)
		pu, _ := url.Parse(e.portal.URL)
		for _, ck := range c.Jar.Cookies(pu) {
			req.AddCookie(ck)
		}
		csrf := e.sessions.CSRFToken(req)
		res, _ = do(t, c, "POST", e.portal.URL+"/logout", strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-out: got %d, want 303", res.StatusCode)
		}
		hits := b.hits.Load()
		res, _ = do(t, c, "GET", e.services.URL+next, nil, nil)
		if want := e.portal.URL + login; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("proxy origin after signing out of the portal: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), want)
		}
		if b.hits.Load() != hits {
			t.Error("the service was reached after signing out of the portal")
		}
	})
	t.Run("admin confirms first", func(t *testing.T) {
		admin := e.client(&e.admin)
		res, body := do(t, admin, "GET", e.portal.URL+login, nil, nil)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || doc.Find(`[data-testid="proxy-warning"]`).Length() != 1 {
			t.Fatalf("got %d without a warning, want the warning page", res.StatusCode)
		}
		csrf, _ := doc.Find(`input[name="csrf_token"]`).Attr("value")
		res, _ = do(t, admin, "POST", e.portal.URL+"/proxy-login", strings.NewReader(url.Values{"next": {next}, "csrf_token": {csrf}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if !strings.HasPrefix(res.Header.Get("Location"), e.services.URL+"/_zoe/auth?ticket=") {
			t.Fatalf("confirm: got %d to %q, want the handoff", res.StatusCode, res.Header.Get("Location"))
		}
		do(t, admin, "GET", res.Header.Get("Location"), nil, nil)
		if res, body := do(t, admin, "GET", e.services.URL+next, nil, nil); res.StatusCode != http.StatusOK {
			t.Fatalf("after confirming: got %d %q, want the service", res.StatusCode, body)
		}
		// Another execution of someone else is confirmed separately,
		// even with a session on the proxy origin.
		second := e.running(e.other, b)
		res, _ = do(t, admin, "GET", e.services.URL+webPath(second, ""), nil, nil)
		if want := e.portal.URL + "/proxy-login?next=" + url.QueryEscape(webPath(second, "")); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Fatalf("second execution: got %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), want)
		}
	})
	t.Run("account disabled", func(t *testing.T) {
		// Last: the owner cannot sign in after it. An admin's change to an
		// account holds at the next request on both origins.
		if res, _ := do(t, owner, "GET", e.services.URL+next, nil, nil); res.StatusCode != http.StatusOK {
			t.Fatalf("before: got %d, want the service", res.StatusCode)
		}
		u := e.owner
		u.Enabled = false
		if err := e.st.UpdateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		e.srv.userChanged(u.ID)
		if res, _ := do(t, owner, "GET", e.services.URL+next, nil, nil); res.StatusCode == http.StatusOK {
			t.Errorf("proxy origin after the account was disabled: got %d, want it refused", res.StatusCode)
		}
	})
}

func TestProxyRoutesWithoutSessions(t *testing.T) {
	s := New(Deps{Proxy: ProxyConfig{BaseURL: "http://services.example"}})
	rec := httptestRecorder(s.ProxyRoutes(), "GET", "/proxy/1/web/8080/")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("got %d, want 500", rec.Code)
	}
}
