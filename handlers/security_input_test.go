package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secHostileNumbers are what people type, paste or forge into numeric
// fields: negative, huge, past int64, wrapping when scaled, fractional,
// not numbers at all, empty.
var secHostileNumbers = []string{
	"-1", "-0.5", "1e30", "9223372036854775807", "9223372036854775808", "18446744073709551616",
	"17592186044416", "17592186044480", "1.5", "NaN", "Inf", "-Inf", "abc", "", "0x40", "64MiB", "1,5",
}

// TestSecurityHostileSizes sends hostile numbers to every form and API
// field that takes a size or a count: each is a field error naming the
// field, never a 500, and nothing is stored.
func TestSecurityHostileSizes(t *testing.T) {
	e := newSecEnv(t)
	alice, admin := e.signIn("alice"), e.signIn("admin")
	before := e.state()
	unchanged := func(t *testing.T) {
		t.Helper()
		if diff := cmp.Diff(before, e.state()); diff != "" {
			t.Errorf("state changed (-before +after):\n%s", diff)
		}
	}

	t.Run("start form", func(t *testing.T) {
		fields := []struct{ field, errorID string }{
			{"resources.web.memory", "#mem-web-error"},
			{"resources.web.cores", "#cores-web-error"},
			{"params.web.count", `#p-web\.count-error`},
		}
		alice.get("/shop/web-0")
		for _, f := range fields {
			for _, v := range secHostileNumbers {
				p := alice.post("/shop/web-0/start", url.Values{f.field: {v}})
				if p.status != http.StatusUnprocessableEntity {
					t.Errorf("%s=%q: got %d, want 422 (%s)", f.field, v, p.status, p.text("[data-testid=field-error]"))
					continue
				}
				if got := strings.TrimSpace(p.doc.Find(f.errorID).Text()); got == "" {
					t.Errorf("%s=%q: no error beside the field; errors: %q", f.field, v, p.text("[data-testid=field-error]"))
				}
				// The check box answers too, without a 500.
				if c := alice.post("/shop/web-0/check", url.Values{f.field: {v}}); c.status >= 500 {
					t.Errorf("check %s=%q: got %d", f.field, v, c.status)
				}
			}
		}
		unchanged(t)
	})

	t.Run("API start from the shop", func(t *testing.T) {
		hostile := []string{`-1`, `1e30`, `9223372036854775808`, `1.5`, `-0.5`, `"NaN"`, `"Infinity"`, `"abc"`, `""`, `"-1GiB"`, `"1e30GiB"`, `"9223372036854775807"`, `true`, `{}`, `[]`, `"-500m"`}
		fields := []struct {
			field string
			body  func(v string) string
		}{
			{"resources.web.memory", func(v string) string { return `{"zapp": "web-0", "resources": {"web": {"memory": ` + v + `}}}` }},
			{"resources.web.cores", func(v string) string { return `{"zapp": "web-0", "resources": {"web": {"cores": ` + v + `}}}` }},
			// Refusals by the shop name the form's field, params.web.count.
			{"parameters.web.count", func(v string) string { return `{"zapp": "web-0", "parameters": {"web.count": ` + v + `}}` }},
		}
		for _, f := range fields {
			for _, v := range hostile {
				res := e.api("alice", http.MethodPost, "/api/v1/executions", f.body(v))
				secExpectFieldError(t, f.field+"="+v, res, f.field)
			}
		}
		unchanged(t)
	})

	t.Run("API and upload form: sizes in a description", func(t *testing.T) {
		hostile := []string{`-1`, `1e30`, `9223372036854775808`, `1.5`, `"NaN"`, `"abc"`, `""`, `"-1GiB"`, `"1e30GiB"`, `"9999999999TiB"`, `true`}
		for _, what := range []string{"memory", "cores"} {
			for _, v := range hostile {
				var desc map[string]any
				if err := json.Unmarshal([]byte(portalWebZApp), &desc); err != nil {
					t.Fatal(err)
				}
				svc := desc["services"].([]any)[0].(map[string]any)
				svc["resources"].(map[string]any)[what].(map[string]any)["min"] = json.RawMessage(v)
				raw, err := json.Marshal(desc)
				if err != nil {
					t.Fatal(err)
				}
				field := "services[0].resources." + what + ".min"
				res := e.api("alice", http.MethodPost, "/api/v1/executions", `{"description": `+string(raw)+`}`)
				secExpectFieldError(t, field+"="+v, res, field)
				alice.get("/executions")
				p := alice.post("/executions/custom", url.Values{"description": {string(raw)}})
				if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, field) {
					t.Errorf("upload %s=%s: got %d, want 422 naming %s (%.200s)", field, v, p.status, field, p.text("main"))
				}
			}
		}
		unchanged(t)
	})

	t.Run("quotas form", func(t *testing.T) {
		fields := []struct{ field, label string }{
			{"executions", "Executions at once"}, {"memory", "Memory"}, {"cores", "Cores"}, {"runtime", "Run time"},
		}
		admin.get("/admin/quotas")
		for _, f := range fields {
			for _, v := range secHostileNumbers {
				if v == "" {
					continue // empty is 0, unlimited, as the form says
				}
				if v == "17592186044416" || v == "17592186044480" || (v == "1.5" && f.field != "executions") {
					continue // below the form's bound of 1e9, or GiB, cores and hours in fractions: valid
				}
				p := admin.post("/admin/quotas", url.Values{"name": {"hostile-" + f.field}, f.field: {v}})
				if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, f.label) {
					t.Errorf("%s=%q: got %d, want 422 naming %q (%s)", f.field, v, p.status, f.label, p.text("[data-testid=field-error]"))
				}
			}
		}
		// The largest value the form takes must still be stored as what
		// was typed, not wrapped around.
		p := admin.post("/admin/quotas", url.Values{"name": {"largest"}, "memory": {"1e9"}, "cores": {"1e9"}, "runtime": {"1e9"}, "executions": {"1e9"}})
		if p.status == http.StatusSeeOther {
			q, err := e.st.QuotaByName(context.Background(), "largest")
			if err != nil {
				t.Fatal(err)
			}
			if q.Memory <= 0 || q.MilliCores <= 0 || q.RuntimeLimit <= 0 || q.ConcurrentExecutions <= 0 {
				t.Errorf("largest quota: got %+v, want every limit positive", q)
			}
			if err := e.st.DeleteQuota(context.Background(), q.ID); err != nil {
				t.Fatal(err)
			}
		} else if p.status != http.StatusUnprocessableEntity {
			t.Errorf("largest quota: got %d, want 303 or 422", p.status)
		}
		unchanged(t)
	})

	t.Run("quotas API", func(t *testing.T) {
		hostile := []string{`-1`, `1e30`, `9223372036854775808`, `"NaN"`, `"abc"`, `""`, `"-1GiB"`, `"1e30GiB"`, `true`, `{}`, `"-5s"`}
		for _, field := range []string{"memory", "cores", "runtime_limit", "concurrent_executions"} {
			for _, v := range hostile {
				res := e.api("admin", http.MethodPost, "/api/v1/quotas", `{"name": "hostile-`+field+`", "`+field+`": `+v+`}`)
				secExpectFieldError(t, field+"="+v, res, field)
			}
		}
		unchanged(t)
	})
}

// secExpectFieldError checks an API refusal: 400 or 422, in the one error
// shape, naming field.
func secExpectFieldError(t *testing.T, what string, res apiResponse, field string) {
	t.Helper()
	if res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
		t.Errorf("%s: got %d, want 400 or 422 (%s)", what, res.status, res.body)
		return
	}
	var eb apiErrorBody
	if err := json.Unmarshal(res.body, &eb); err != nil {
		t.Errorf("%s: body %s: %v", what, res.body, err)
		return
	}
	fields := []string{eb.Error.Field}
	for _, f := range eb.Error.Fields {
		fields = append(fields, f.Field)
	}
	for _, f := range fields {
		if f == field || strings.HasPrefix(f, field) || (strings.HasPrefix(field, "parameters.") && f == "params."+strings.TrimPrefix(field, "parameters.")) {
			return
		}
	}
	t.Errorf("%s: got fields %q, want %s among them (%s)", what, fields, field, eb.Error.Message)
}
