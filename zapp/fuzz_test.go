package zapp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that what it accepts
// marshals to JSON it accepts again with the same meaning, and that what
// it rejects comes with at least one FieldError.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	f.Add([]byte(base), false)
	f.Add([]byte(`{"name":"x","version":3,"will_end":false,"size":0,"services":[{"name":"a1","total_count":1e9}]}`), true)
	f.Add([]byte(`{"services":[{"resources":{"memory":{"min":"1.5GiB","max":1e999}}}]}`), true)
	f.Add([]byte(`[1, {"a": [null, true, "x"]}] 3`), false)
	f.Fuzz(func(t *testing.T, data []byte, shop bool) {
		trust := TrustUser
		if shop {
			trust = TrustShop
		}
		d, err := Parse(data, trust)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("got error %v (%T), want non-empty Errors", err, err)
			}
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out, trust)
		if err != nil {
			t.Fatalf("Parse(Marshal(d)): %v\n%s", err, out)
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		_ = d.Instances()
	})
}

// FuzzParseFields fuzzes the values of a valid skeleton, which random
// bytes rarely reach, so that the round trip is exercised on descriptions
// that validate.
func FuzzParseFields(f *testing.F) {
	f.Add("web", "zoe/busybox:test", "512MiB", "0.5", "GREETING", "hi {user_name}", "sleep 1", "http://{ip_port}{proxy_path}", uint16(8080), uint8(2))
	f.Add("spark-worker", "busybox", "1.5 GiB", "500m", "A_B", "{{x}}", `sh -c 'echo "{dns_name#self}"'`, "", uint16(1), uint8(1))
	f.Add("db", "postgres@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c", "0", "0", "X", "{dns_name#db1}", "", "{", uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, name, image, mem, cores, envName, envValue, command, url string, port uint16, total uint8) {
		svc := map[string]any{
			"name": name, "image": image, "monitor": true,
			"essential_count": 1, "total_count": int(total), "startup_order": 0,
			"resources": map[string]any{
				"memory": map[string]any{"min": mem, "max": nil},
				"cores":  map[string]any{"min": cores, "max": cores},
			},
			"ports":       []any{map[string]any{"name": "port", "port_number": int(port), "protocol": "tcp", "url_template": url}},
			"environment": []any{[]any{envName, envValue}},
			"volumes":     []any{},
			"command":     command,
		}
		data, err := json.Marshal(map[string]any{"name": "app", "version": 3, "will_end": false, "size": 1, "services": []any{svc}})
		if err != nil {
			t.Skip()
		}
		d, err := Parse(data, TrustUser)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("got error %v (%T), want non-empty Errors", err, err)
			}
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out, TrustUser)
		if err != nil {
			t.Fatalf("Parse(Marshal(d)): %v\n%s", err, out)
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
		vars := d.Vars(d.Instances()[0].Name, Execution{ID: 1, Name: "n", User: "u", Deployment: "d"})
		vars[VarProxyPath] = "/p/"
		for _, e := range d.Services[0].Environment {
			if _, err := Expand(e.Value, vars); err != nil {
				t.Fatalf("valid environment value %q does not expand: %v", e.Value, err)
			}
		}
		if c := d.Services[0].Command; c != nil {
			if _, err := ExpandCommand(*c, vars); err != nil {
				t.Fatalf("valid command %q does not expand: %v", *c, err)
			}
		}
		vars[VarIPPort] = "h:1"
		if _, err := Expand(d.Services[0].Ports[0].URLTemplate, vars); err != nil {
			t.Fatalf("valid url_template does not expand: %v", err)
		}
	})
}
