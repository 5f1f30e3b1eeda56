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

	"github.com/PuerkitoBio/goquery"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
)

// secPayloads are markup that would run script if a page printed it
// unescaped, in text or in an attribute.
var secPayloads = []string{
	`<script>alert("zoe")</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(2)>`,
	`</textarea><body onpageshow=alert(3)>`,
}

// secNoMarkup fails when p is HTML holding anything that people's text
// could have turned into script (secMarkupProblems).
func secNoMarkup(t *testing.T, where string, p page) {
	t.Helper()
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		return
	}
	for _, msg := range secMarkupProblems(p.doc) {
		t.Errorf("%s: %s", where, msg)
	}
}

// secMarkupProblems lists script elements that are not one of Zoe's own
// files, on* attributes and javascript: URLs.
func secMarkupProblems(doc *goquery.Document) []string {
	var out []string
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		src, _ := s.Attr("src")
		if !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
			out = append(out, "a script element from data: "+secOuter(s))
		}
	})
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name := strings.ToLower(a.Key)
			switch {
			case strings.HasPrefix(name, "on"):
				out = append(out, "an event handler attribute from data: "+secOuter(s))
			case (name == "href" || name == "src" || name == "action" || name == "formaction") &&
				strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:"):
				out = append(out, "a javascript: URL from data: "+secOuter(s))
			}
		}
	})
	return out
}

// TestSecurityMarkupCheck shows that secMarkupProblems catches what it
// is for, so that a clean page means something.
func TestSecurityMarkupCheck(t *testing.T) {
	tests := []struct {
		html string
		want int
	}{
		{`<p>fine &lt;script&gt;</p><script src="/static/htmx.min.js"></script>`, 0},
		{`<p><script>alert(1)</script></p>`, 1},
		{`<script src="https://evil.example/x.js"></script>`, 1},
		{`<img src=x onerror=alert(1)>`, 1},
		{`<a href=" JavaScript:alert(1)">x</a>`, 1},
		{`<input value=""><svg onload=alert(2)>`, 1},
	}
	for _, tt := range tests {
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(tt.html))
		if err != nil {
			t.Fatal(err)
		}
		if got := secMarkupProblems(doc); len(got) != tt.want {
			t.Errorf("%s: got %q, want %d problems", tt.html, got, tt.want)
		}
	}
}

func secOuter(s *goquery.Selection) string {
	h, _ := goquery.OuterHtml(s)
	return h[:min(len(h), 200)]
}

// TestSecurityScriptInjection writes markup wherever a person can write
// text (ZApp names and readmes come from the harness's shop), then reads
// every page of the route table as its owner and as an admin, in full and
// as HTMX fragments, and the pages that echo refused input.
func TestSecurityScriptInjection(t *testing.T) {
	e := newSecEnv(t)
	ctx := context.Background()

	// An account whose name and e-mail are markup, as an LDAP directory
	// or a text file of users could hand over.
	evilName := `x"><img src=x onerror=alert(9)>`
	evil := store.User{Username: evilName, Email: secPayloads[1] + "@example.com", Role: "user", Source: auth.SourceBuiltin, PasswordHash: portalPasswordHash(), Enabled: true}
	if _, err := e.st.CreateUser(ctx, &evil); err != nil {
		t.Fatal(err)
	}
	e.users[evilName] = evil
	ev, admin := e.signIn(evilName), e.signIn("admin")

	// Executions named with markup, markup in a parameter that the
	// service prints, and a failing one that prints markup last.
	ev.get("/shop/web-0")
	web := ev.executionID(ev.post("/shop/web-0/start", url.Values{"name": {secPayloads[1]}, "params.GREETING": {strings.Join(secPayloads, " ")}}))
	failing := strings.Replace(apiCustomZApp, `"command": "sh -c 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done'"`,
		`"command": "sh -c 'echo \"</pre><script>alert(4)</script>\"; echo \"<img src=x onerror=alert(5)>\"; exit 3'"`, 1)
	ev.get("/executions")
	fails := ev.executionID(ev.post("/executions/custom", url.Values{"name": {secPayloads[2]}, "description": {failing}}))
	e.waitStatus(web, store.StatusRunning)
	e.waitStatus(fails, store.StatusError)

	// A token, a quota, and workspace entries named with markup.
	ev.get("/account")
	if p := ev.post("/account/tokens", url.Values{"name": {secPayloads[0]}}); p.status >= 500 {
		t.Fatalf("token: got %d", p.status)
	}
	admin.get("/admin/quotas")
	if p := admin.post("/admin/quotas", url.Values{"name": {secPayloads[3]}}); p.status >= 500 {
		t.Fatalf("quota: got %d", p.status)
	}
	ev.get("/workspace")
	ev.post("/workspace/mkdir", url.Values{"path": {"/"}, "name": {secPayloads[1]}})
	ev.upload("/workspace/upload", secPayloads[2]+".html", secPayloads[0])
	qs, err := e.st.ListQuotas(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Wait for the greeting to reach the log, so that the log pages hold it.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(ev.get(fmt.Sprintf("/executions/%d/logs/web0", web)).body, "alert(3)") && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
	}

	routes := secRoutes(t, e.srv)
	for _, x := range []struct {
		execution int64
		service   string
	}{{web, "web0"}, {fails, "loop0"}} {
		vals := map[string]string{
			"id": fmt.Sprint(x.execution), "service": x.service, "zapp": "web-0",
			"user": fmt.Sprint(evil.ID), "token": "1", "quota": fmt.Sprint(qs[len(qs)-1].ID), "*": "",
		}
		for _, r := range routes {
			if r.method != http.MethodGet || !secIsPage(r.pattern) || r.pattern == "/static/*" {
				continue
			}
			path := fill(r.pattern, vals)
			for _, c := range []*portalClient{ev, admin} {
				for _, q := range []string{"", "?path=" + url.QueryEscape("/"+secPayloads[1]), "?status=" + url.QueryEscape(secPayloads[0])} {
					p := c.get(path + q)
					if p.status >= 500 {
						t.Errorf("GET %s%s: got %d", path, q, p.status)
					}
					secNoMarkup(t, "GET "+path+q, p)
				}
				secNoMarkup(t, "HTMX "+path, c.htmx(path))
			}
		}
	}
	// The checks above saw the markup, escaped: they proved something.
	if p := ev.get(fmt.Sprintf("/executions/%d/logs/web0", web)); !strings.Contains(p.text("[data-testid=log]"), secPayloads[3]) {
		t.Errorf("log page: got %q, want the greeting's markup as text", p.text("[data-testid=log]"))
	}
	// The lifecycle may have removed the failed container and its output.
	if p := ev.get(fmt.Sprintf("/executions/%d", fails)); p.has("[data-testid=failed-log]") && !strings.Contains(p.text("[data-testid=failed-log]"), "alert(4)") {
		t.Errorf("failed log: got %q, want the markup the service printed, as text", p.text("[data-testid=failed-log]"))
	}
	if p := admin.get("/admin/users"); !strings.Contains(p.text("main"), evilName) {
		t.Errorf("users page: got no %q, so the check above proved nothing", evilName)
	}

	// Pages that echo what was refused.
	ev.get("/shop/web-0")
	echoes := []struct {
		path string
		form url.Values
	}{
		{"/shop/web-0/start", url.Values{"name": {secPayloads[0]}, "resources." + secPayloads[1] + ".memory": {"1"}, "params." + secPayloads[2]: {"x"}}},
		{"/shop/web-0/check", url.Values{"params.GREETING": {secPayloads[1]}, "resources.web.memory": {secPayloads[3]}}},
		{"/executions/custom", url.Values{"description": {strings.Replace(apiCustomZApp, `"volumes": []`, `"volumes": [], "network": "`+strings.ReplaceAll(secPayloads[1], `"`, `\"`)+`"`, 1)}}},
		{"/executions/custom", url.Values{"description": {secPayloads[0]}}},
		{"/workspace/mkdir", url.Values{"path": {secPayloads[1]}, "name": {secPayloads[0]}}},
		{"/account/password", url.Values{"current": {secPayloads[1]}, "new": {secPayloads[0]}, "confirm": {secPayloads[2]}}},
	}
	for _, tc := range echoes {
		p := ev.post(tc.path, tc.form)
		if p.status >= 500 {
			t.Errorf("POST %s: got %d", tc.path, p.status)
		}
		secNoMarkup(t, "POST "+tc.path, p)
	}
	admin.get("/admin/users")
	for _, form := range []url.Values{
		{"username": {secPayloads[1]}, "email": {secPayloads[0]}, "role": {secPayloads[2]}, "quota": {"0"}, "password": {"x"}},
		{"username": {"fine"}, "email": {secPayloads[0]}, "role": {"user"}, "quota": {secPayloads[1]}, "password": {"long-enough-password"}},
	} {
		secNoMarkup(t, "POST /admin/users", admin.post("/admin/users", form))
	}
	v := e.visitor()
	v.get("/login")
	secNoMarkup(t, "POST /login", v.post("/login", url.Values{"username": {secPayloads[1]}, "password": {"x"}, "next": {secPayloads[2]}}))
	secNoMarkup(t, "GET /login?next=", v.get("/login?next="+url.QueryEscape(`javascript:alert(1)`)))
	secNoMarkup(t, "GET /nope", ev.get("/"+url.PathEscape(secPayloads[0])))

	t.Run("API answers JSON strings", func(t *testing.T) {
		e.addToken(evilName)
		res := e.api(evilName, http.MethodGet, fmt.Sprintf("/api/v1/executions/%d", web), "")
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %q, want 200 application/json", res.status, res.header.Get("Content-Type"))
		}
		var x struct {
			Name  string `json:"name"`
			Owner string `json:"owner"`
		}
		res.json(t, &x)
		if x.Name != secPayloads[1] {
			t.Errorf("name: got %q, want %q", x.Name, secPayloads[1])
		}
		res = e.api(evilName, http.MethodGet, fmt.Sprintf("/api/v1/executions/%d/services/loop0/logs", fails), "")
		if ct := res.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			t.Errorf("logs: got Content-Type %q, want anything but HTML", ct)
		}
		var anyJSON any
		if strings.HasPrefix(res.header.Get("Content-Type"), "application/json") && json.Unmarshal(res.body, &anyJSON) != nil {
			t.Errorf("logs: not JSON: %.200s", res.body)
		}
	})
}

// addToken gives user, created after newSecEnv, an API token.
func (e *secEnv) addToken(user string) {
	e.t.Helper()
	secret, hash := auth.NewToken()
	id, err := e.st.CreateToken(context.Background(), &store.Token{UserID: e.users[user].ID, Name: "xss", Hash: hash})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[user], e.tokIDs[user] = secret, id
}
