package shop

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/zapp"
)

func loadDemo(t *testing.T) *ZApp {
	t.Helper()
	root := t.TempDir()
	writeFolder(t, root, "demo", demoFiles())
	zapps, problems := Load(root)
	if len(problems) > 0 || len(zapps) != 1 {
		t.Fatalf("got %d ZApps and problems %v, want the demo", len(zapps), problems)
	}
	return zapps[0]
}

func TestInstantiate(t *testing.T) {
	z := loadDemo(t)
	type service struct {
		Env       []zapp.EnvVar
		Command   *string
		Essential int
		Total     int
		Labels    []string
		Memory    zapp.Bytes
		Cores     zapp.MilliCores
	}
	str := func(s string) *string { return &s }
	web := func(f func(*service)) service {
		s := service{
			Env:       []zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}, {Name: "WORKERS", Value: "4"}},
			Command:   str("sh -c 'echo $GREETING'"),
			Essential: 1, Total: 2,
			Labels: []string{"ssd", "gpu"},
			Memory: 64 * zapp.MiB, Cores: 1000,
		}
		if f != nil {
			f(&s)
		}
		return s
	}
	tests := []struct {
		name string
		req  Request
		web  service
		db   []zapp.EnvVar
	}{
		{"defaults", Request{}, web(nil), []zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}}},
		{
			"environment in every service that defines it",
			Request{Params: map[string]string{"GREETING": "salut {user_name}"}},
			web(func(s *service) { s.Env[0].Value = "salut {user_name}" }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "salut {user_name}"}},
		},
		{
			"integer environment, spaces trimmed",
			Request{Params: map[string]string{"WORKERS": " 16 "}},
			web(func(s *service) { s.Env[1].Value = "16" }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}},
		},
		{
			"command",
			Request{Params: map[string]string{"web.command": "sleep 60"}},
			web(func(s *service) { s.Command = str("sleep 60") }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}},
		},
		{
			"service_count keeps elastic instances elastic",
			Request{Params: map[string]string{"web.count": "7"}},
			web(func(s *service) { s.Total = 7 }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}},
		},
		{
			"resources within the description's max",
			Request{Resources: map[string]ServiceResources{"web": {Memory: zapp.GiB, MilliCores: 1500}}},
			web(func(s *service) { s.Memory, s.Cores = zapp.GiB, 1500 }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}},
		},
		{
			"resources lowered",
			Request{Resources: map[string]ServiceResources{"web": {Memory: 32 * zapp.MiB, MilliCores: 100}}},
			web(func(s *service) { s.Memory, s.Cores = 32*zapp.MiB, 100 }),
			[]zapp.EnvVar{{Name: "GREETING", Value: "bonjour"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := z.Instantiate(tt.req)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			s := d.Services[0]
			got := service{s.Environment, s.Command, s.EssentialCount, s.TotalCount, s.Labels, s.Resources.Memory.Min, s.Resources.Cores.Min}
			if diff := cmp.Diff(tt.web, got); diff != "" {
				t.Errorf("web (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.db, d.Services[1].Environment); diff != "" {
				t.Errorf("cache environment (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"gpu", "ssd"}, d.Services[1].Labels); diff != "" {
				t.Errorf("cache labels, flat and once each (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstantiateErrors(t *testing.T) {
	z := loadDemo(t)
	tests := []struct {
		name string
		req  Request
		want zapp.Errors
	}{
		{"above max", Request{Params: map[string]string{"WORKERS": "20"}},
			zapp.Errors{{Path: "params.WORKERS", Message: "20 exceeds max 16"}}},
		{"below min", Request{Params: map[string]string{"WORKERS": "0"}},
			zapp.Errors{{Path: "params.WORKERS", Message: "0 is below min 1"}}},
		{"negative", Request{Params: map[string]string{"WORKERS": "-3"}},
			zapp.Errors{{Path: "params.WORKERS", Message: "-3 is below min 1"}}},
		{"non-numeric", Request{Params: map[string]string{"WORKERS": "many"}},
			zapp.Errors{{Path: "params.WORKERS", Message: `"many" is not a whole number`}}},
		{"fractional", Request{Params: map[string]string{"WORKERS": "2.5"}},
			zapp.Errors{{Path: "params.WORKERS", Message: `"2.5" is not a whole number`}}},
		{"huge", Request{Params: map[string]string{"WORKERS": "99999999999999999999999"}},
			zapp.Errors{{Path: "params.WORKERS", Message: "99999999999999999999999 exceeds max 16"}}},
		{"hugely negative", Request{Params: map[string]string{"WORKERS": "-99999999999999999999999"}},
			zapp.Errors{{Path: "params.WORKERS", Message: "-99999999999999999999999 is below min 1"}}},
		{"empty integer", Request{Params: map[string]string{"WORKERS": ""}},
			zapp.Errors{{Path: "params.WORKERS", Message: "required"}}},
		{"unknown parameter", Request{Params: map[string]string{"NOPE": "1"}},
			zapp.Errors{{Path: "params.NOPE", Message: "this ZApp has no such parameter"}}},
		{"bad template in a value", Request{Params: map[string]string{"GREETING": "{nope}"}},
			zapp.Errors{
				{Path: "params.GREETING", Message: "unknown variable {nope} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}; write {{ and }} for literal braces) (services[0].environment[0][1])"},
				{Path: "params.GREETING", Message: "unknown variable {nope} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}; write {{ and }} for literal braces) (services[1].environment[0][1])"},
			}},
		{"empty command", Request{Params: map[string]string{"web.command": ""}},
			zapp.Errors{{Path: "params.web.command", Message: "must not be empty (use null to keep the image's command) (services[0].command)"}}},
		{"memory above the description's max", Request{Resources: map[string]ServiceResources{"web": {Memory: 2 * zapp.GiB}}},
			zapp.Errors{{Path: "resources.web.memory", Message: "2 GiB exceeds max 1 GiB"}}},
		{"memory above the site limit", Request{
			Resources: map[string]ServiceResources{"cache": {Memory: 80 * zapp.GiB}},
			Limits:    Limits{Memory: 64 * zapp.GiB},
		}, zapp.Errors{{Path: "resources.cache.memory", Message: "80 GiB exceeds max 64 GiB"}}},
		{"negative memory", Request{Resources: map[string]ServiceResources{"web": {Memory: -1}}},
			zapp.Errors{{Path: "resources.web.memory", Message: "must not be negative"}}},
		{"tiny memory", Request{Resources: map[string]ServiceResources{"web": {Memory: 100}}},
			zapp.Errors{{Path: "resources.web.memory", Message: "100 B is less than 1 MiB"}}},
		{"cores above max", Request{Resources: map[string]ServiceResources{"web": {MilliCores: 3000}}},
			zapp.Errors{{Path: "resources.web.cores", Message: "3 cores exceeds max 2 cores"}}},
		{"unknown service", Request{Resources: map[string]ServiceResources{"api": {Memory: zapp.GiB}}},
			zapp.Errors{{Path: "resources.api", Message: `this ZApp has no service "api" (services: web, cache)`}}},
		{"all at once", Request{
			Params:    map[string]string{"WORKERS": "x", "NOPE": ""},
			Resources: map[string]ServiceResources{"web": {MilliCores: -1}},
		}, zapp.Errors{
			{Path: "params.WORKERS", Message: `"x" is not a whole number`},
			{Path: "params.NOPE", Message: "this ZApp has no such parameter"},
			{Path: "resources.web.cores", Message: "must not be negative"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := z.Instantiate(tt.req)
			if d != nil {
				t.Errorf("got a description, want none")
			}
			var got zapp.Errors
			if !errors.As(err, &got) {
				t.Fatalf("got error %v (%T), want zapp.Errors", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceCountLowersEssential(t *testing.T) {
	z := loadDemo(t)
	z.Description.Services[0].EssentialCount = 2
	d, err := z.Instantiate(Request{Params: map[string]string{"web.count": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Services[0]; s.EssentialCount != 1 || s.TotalCount != 1 {
		t.Errorf("got essential %d total %d, want 1 and 1", s.EssentialCount, s.TotalCount)
	}
}

// TestInstantiateLeavesTemplate checks that instances share nothing with
// the shop's template.
func TestInstantiateLeavesTemplate(t *testing.T) {
	z := loadDemo(t)
	before := clone(z.Description)
	if diff := cmp.Diff(before, z.Description); diff != "" {
		t.Fatalf("clone differs from the original (-clone +original):\n%s", diff)
	}
	d, err := z.Instantiate(Request{
		Params:    map[string]string{"GREETING": "changed", "web.command": "true"},
		Resources: map[string]ServiceResources{"cache": {Memory: zapp.GiB}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Services[0].Labels[0] = "mutated"
	d.Services[0].Environment[1].Value = "mutated"
	*d.Services[0].Command = "mutated"
	if diff := cmp.Diff(before, z.Description); diff != "" {
		t.Errorf("template changed (-before +after):\n%s", diff)
	}
}
