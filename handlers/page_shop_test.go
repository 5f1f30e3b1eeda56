package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

func TestPortalShop(t *testing.T) {
	e := newPortalEnv(t)
	tests := []struct {
		user string
		want []string // ZApp IDs shown
	}{
		{"admin", []string{"web-1", "web-2", "web-0"}},
		{"alice", []string{"web-2", "web-0"}},
		{"gus", []string{"web-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			c := e.signIn(tt.user)
			p := c.get("/shop")
			if p.status != http.StatusOK {
				t.Fatalf("GET /shop: got %d", p.status)
			}
			var got []string
			p.doc.Find("[data-testid=zapp-tile]").Each(func(_ int, s *goquery.Selection) {
				got = append(got, s.AttrOr("data-zapp", ""))
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tiles (-want +got):\n%s", diff)
			}
			// What a role may not see does not exist for it.
			for _, id := range []string{"web-0", "web-1", "web-2"} {
				want := http.StatusNotFound
				for _, w := range tt.want {
					if w == id {
						want = http.StatusOK
					}
				}
				if p := c.get("/shop/" + id); p.status != want {
					t.Errorf("GET /shop/%s: got %d, want %d", id, p.status, want)
				}
				if p := c.get("/shop/" + id + "/logo"); p.status != want {
					t.Errorf("GET /shop/%s/logo: got %d, want %d", id, p.status, want)
				}
			}
		})
	}

	t.Run("names and readmes are escaped", func(t *testing.T) {
		c := e.signIn("alice")
		for _, path := range []string{"/shop", "/shop/web-0"} {
			p := c.get(path)
			if strings.Contains(p.body, "<script>alert") {
				t.Errorf("GET %s: a script from the shop reached the page", path)
			}
			if path == "/shop/web-0" {
				if got := p.text("[data-testid=zapp-title]"); got != "Web "+portalXSS {
					t.Errorf("title: got %q, want the name as text", got)
				}
				if !p.has("[data-testid=readme] strong") {
					t.Errorf("readme: markdown not rendered")
				}
			}
		}
	})

	t.Run("logo is served with a locked-down policy", func(t *testing.T) {
		c := e.signIn("alice")
		p := c.get("/shop/web-0/logo")
		if got := p.header.Get("Content-Type"); got != "image/svg+xml" {
			t.Errorf("Content-Type: got %q", got)
		}
		if got := p.header.Get("Content-Security-Policy"); !strings.Contains(got, "sandbox") {
			t.Errorf("CSP: got %q, want a sandbox", got)
		}
	})
}

func TestPortalStartForm(t *testing.T) {
	e := newPortalEnv(t)

	t.Run("users get sliders bounded by the description", func(t *testing.T) {
		c := e.signIn("alice")
		p := c.get("/shop/web-0")
		mem := p.doc.Find("[data-testid=memory-web]")
		got := map[string]string{"type": mem.AttrOr("type", ""), "min": mem.AttrOr("min", ""), "max": mem.AttrOr("max", ""), "value": mem.AttrOr("value", ""), "name": mem.AttrOr("name", ""), "data-output": mem.AttrOr("data-output", "")}
		want := map[string]string{"type": "range", "min": "8", "max": "256", "value": "32", "name": "resources.web.memory", "data-output": "mem-web"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("memory slider (-want +got):\n%s", diff)
		}
		if got := p.text("#mem-web"); got != "32 MiB" {
			t.Errorf("memory shown: got %q, want 32 MiB", got)
		}
		cores := p.doc.Find("[data-testid=cores-web]")
		if got := cores.AttrOr("max", "") + "/" + cores.AttrOr("value", ""); got != "1000/100" {
			t.Errorf("cores slider max/value: got %s, want 1000/100", got)
		}
		count := p.doc.Find("[data-testid=param-web\\.count]")
		if got := count.AttrOr("type", "") + " " + count.AttrOr("min", "") + "-" + count.AttrOr("max", "") + " step " + count.AttrOr("step", ""); got != "range 1-3 step 1" {
			t.Errorf("count slider: got %q", got)
		}
		if got := p.doc.Find("[data-testid=param-GREETING]").AttrOr("value", ""); got != "hello-from-zoe" {
			t.Errorf("greeting: got %q", got)
		}
		if got := p.doc.Find("[data-testid=fit]").AttrOr("data-state", ""); got != "fits" {
			t.Errorf("fit box: got %q (%s), want fits", got, p.text("[data-testid=fit]"))
		}
		form := p.doc.Find("[data-testid=start-form]")
		if got := form.AttrOr("hx-post", ""); got != "/shop/web-0/check" {
			t.Errorf("form hx-post: got %q", got)
		}
		if got := form.Find("input[name=csrf_token]").AttrOr("value", ""); got == "" || got != c.csrf {
			t.Errorf("form CSRF token: got %q, want the page's %q", got, c.csrf)
		}
	})

	t.Run("guests get the defaults and no controls", func(t *testing.T) {
		c := e.signIn("gus")
		p := c.get("/shop/web-0")
		if p.has("input[type=range]") || p.has("[data-testid=param]") {
			t.Errorf("guest form has tuning controls")
		}
		if got := p.text("[data-testid=defaults]"); !strings.Contains(got, "web: 32 MiB and 0.1 cores") {
			t.Errorf("defaults: got %q", got)
		}
	})

	t.Run("the check answers with the fit box", func(t *testing.T) {
		c := e.signIn("alice")
		c.get("/shop/web-0")
		tests := []struct {
			name   string
			form   url.Values
			state  string
			reason string
		}{
			{"fits", url.Values{"resources.web.memory": {"64"}}, "fits", "It reserves 64 MiB and 0.1 cores."},
			{"too much for the description", url.Values{"resources.web.memory": {"512"}}, "refused", "512 MiB exceeds max 256 MiB"},
			{"three servers", url.Values{"params.web.count": {"3"}, "resources.web.memory": {"256"}, "resources.web.cores": {"1000"}}, "fits", "It reserves 768 MiB and 3 cores."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				form := tt.form
				form.Set("csrf_token", c.csrf)
				req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/shop/web-0/check", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("HX-Request", "true")
				p := c.do(req)
				if p.status != http.StatusOK {
					t.Fatalf("got %d", p.status)
				}
				if p.has("html") && p.has("header.site") {
					t.Errorf("htmx check answered a whole page")
				}
				fit := p.doc.Find("#fit")
				if got := fit.AttrOr("data-state", ""); got != tt.state {
					t.Errorf("state: got %q (%s), want %q", got, strings.TrimSpace(fit.Text()), tt.state)
				}
				if !strings.Contains(fit.Text(), tt.reason) {
					t.Errorf("reasons: got %q, want %q in them", strings.TrimSpace(fit.Text()), tt.reason)
				}
			})
		}
	})

	t.Run("errors beside their fields, with what was typed", func(t *testing.T) {
		c := e.signIn("alice")
		c.get("/shop/web-0")
		p := c.post("/shop/web-0/start", url.Values{
			"name":                 {"my run"},
			"params.GREETING":      {"typed greeting"},
			"params.web.count":     {"9"},
			"resources.web.memory": {"1024"},
			"resources.web.cores":  {"abc"},
		})
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d, want 422", p.status)
		}
		if got := p.doc.Find("[data-testid=field-name]").AttrOr("value", ""); got != "my run" {
			t.Errorf("name kept: got %q", got)
		}
		if got := p.doc.Find("[data-testid=param-GREETING]").AttrOr("value", ""); got != "typed greeting" {
			t.Errorf("greeting kept: got %q", got)
		}
		if got := p.doc.Find("#cores-web-error").Text(); got != "must be a whole number" {
			t.Errorf("cores error: got %q", got)
		}
		// The form's own parse error is reported first; then the
		// description's checks run.
		p = c.post("/shop/web-0/start", url.Values{
			"name":                 {"my run"},
			"params.web.count":     {"9"},
			"resources.web.memory": {"1024"},
		})
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("got %d, want 422", p.status)
		}
		if got := p.doc.Find("#p-web\\.count-error").Text(); got == "" {
			t.Errorf("no error beside the count slider; errors: %s", p.text("[data-testid=field-error]"))
		}
		if got := p.doc.Find("#mem-web-error").Text(); !strings.Contains(got, "256 MiB") {
			t.Errorf("memory error: got %q", got)
		}
		if got := p.doc.Find("[data-testid=memory-web]").AttrOr("value", ""); got != "1024" {
			t.Errorf("memory kept: got %q", got)
		}
		if got := p.doc.Find("[data-testid=memory-web]").AttrOr("aria-invalid", ""); got != "true" {
			t.Errorf("memory slider aria-invalid: got %q", got)
		}
		if n := countExecutions(t, e); n != 0 {
			t.Errorf("refused starts recorded %d executions", n)
		}
	})

	t.Run("quota refusal beside the memory slider", func(t *testing.T) {
		ctx := context.Background()
		q := store.Quota{Name: "small", Memory: 64 << 20}
		if _, err := e.st.CreateQuota(ctx, &q); err != nil {
			t.Fatal(err)
		}
		u := e.addUser("carol", "user")
		u.QuotaID = &q.ID
		if err := e.st.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		c := e.signIn("carol")
		p := c.get("/shop/web-0")
		if got := p.text(".quota-mark"); !strings.Contains(got, "64 MiB") {
			t.Errorf("quota mark: got %q", got)
		}
		p = c.post("/shop/web-0/start", url.Values{"resources.web.memory": {"128"}})
		if p.status != http.StatusConflict {
			t.Fatalf("got %d, want 409", p.status)
		}
		if got := p.doc.Find("#mem-web-error").Text(); !strings.Contains(got, "memory quota exceeded") {
			t.Errorf("memory error: got %q", got)
		}
		if got := p.doc.Find("[data-testid=fit]").AttrOr("data-state", ""); got != "refused" {
			t.Errorf("fit box: got %q", got)
		}
	})

	t.Run("CSRF token required", func(t *testing.T) {
		c := e.signIn("alice")
		c.get("/shop/web-0")
		for _, path := range []string{"/shop/web-0/start", "/shop/web-0/check"} {
			if p := c.post(path, url.Values{"csrf_token": {""}}); p.status != http.StatusForbidden {
				t.Errorf("POST %s without token: got %d, want 403", path, p.status)
			}
			if p := c.post(path, url.Values{"csrf_token": {"forged"}}); p.status != http.StatusForbidden {
				t.Errorf("POST %s with a wrong token: got %d, want 403", path, p.status)
			}
		}
	})

	t.Run("guests cannot tune, even by forging the form", func(t *testing.T) {
		c := e.signIn("gus")
		c.get("/shop/web-0")
		for _, form := range []url.Values{
			{"resources.web.memory": {"256"}},
			{"params.GREETING": {"x"}},
		} {
			p := c.post("/shop/web-0/start", form)
			if p.status != http.StatusForbidden {
				t.Errorf("forged %v: got %d, want 403", form, p.status)
			}
			if got := p.text("[data-testid=form-error]"); !strings.Contains(got, "cannot change") {
				t.Errorf("message: got %q", got)
			}
		}
		if n := countExecutions(t, e); n != 0 {
			t.Errorf("forged starts recorded %d executions", n)
		}
	})
}

func countExecutions(t *testing.T, e *portalEnv) int {
	t.Helper()
	_, n, err := e.st.ListExecutions(context.Background(), store.ExecutionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
