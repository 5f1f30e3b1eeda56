package shop

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/zapp"
)

// demoDescription is a small valid description used by the broken-folder
// and Instantiate tests.
const demoDescription = `{
  "name": "demo", "version": 3, "will_end": false, "size": 1,
  "services": [
    {"name": "web", "image": "zoe/busybox:test", "monitor": true,
     "essential_count": 1, "total_count": 2, "startup_order": 0,
     "resources": {"memory": {"min": "64MiB", "max": "1GiB"}, "cores": {"min": 1, "max": 2}},
     "ports": [], "volumes": [], "labels": ["ssd"],
     "environment": [["GREETING", "hello"], ["WORKERS", "2"]],
     "command": "sh -c 'echo $GREETING'"},
    {"name": "cache", "image": "zoe/busybox:test", "monitor": false,
     "essential_count": 1, "total_count": 1, "startup_order": 0,
     "resources": {"memory": {"min": "128MiB", "max": null}, "cores": {"min": 1, "max": null}},
     "ports": [], "volumes": [],
     "environment": [["GREETING", "hi"]],
     "command": null}
  ]
}`

const demoManifest = `{"version": 1, "zapps": [
  {"category": "Demo", "name": "Demo", "description": "demo.json", "readable_descr": "README.md",
   "parameters": [
     {"kind": "environment", "name": "GREETING", "readable_name": "Greeting", "type": "string", "default": "bonjour"},
     {"kind": "environment", "name": "WORKERS", "type": "int", "default": 4, "min": 1, "max": 16, "step": 1},
     {"kind": "command", "name": "web", "type": "string", "default": null},
     {"kind": "service_count", "name": "web", "type": "integer", "default": "2", "min": 1, "max": 10, "step": 1}
   ],
   "labels": ["gpu", "ssd"], "logo": "logo.png"}
]}`

// writeFolder writes files (name -> content) under root/name.
func writeFolder(t *testing.T, root, name string, files map[string]string) {
	t.Helper()
	for file, content := range files {
		p := filepath.Join(root, name, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func demoFiles() map[string]string {
	return map[string]string{
		"manifest.json": demoManifest,
		"demo.json":     demoDescription,
		"README.md":     "A demo ZApp.\n\nSecond paragraph.\n",
		"logo.png":      "\x89PNG\r\n\x1a\n",
	}
}

func TestSampleShop(t *testing.T) {
	s := Open("sample", nil)
	if p := s.Problems(); len(p) != 0 {
		t.Fatalf("got problems %v, want none", p)
	}
	var ids []string
	for _, z := range s.List(RoleAdmin) {
		ids = append(ids, z.ID)
	}
	want := []string{"batch-0", "dask-0", "spark-0", "jupyter-0", "spark-1"} // by category, then name
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("admin list (-want +got):\n%s", diff)
	}
	for _, z := range s.List(RoleAdmin) {
		t.Run(z.ID, func(t *testing.T) {
			if z.Summary == "" || z.ReadmeHTML == "" {
				t.Errorf("got summary %q and readme %q, want both", z.Summary, z.ReadmeHTML)
			}
			if _, err := s.Logo(z.ID); err != nil {
				t.Errorf("logo: %v", err)
			}
			if err := z.Description.Validate(zapp.TrustShop); err != nil {
				t.Errorf("description: %v", err)
			}
			d, err := z.Instantiate(Request{})
			if err != nil {
				t.Fatalf("instantiate with defaults: %v", err)
			}
			if err := d.Validate(zapp.TrustUser); err != nil {
				t.Errorf("the sample ZApps need no shop privileges, got %v", err)
			}
		})
	}
	if got := len(s.List(RoleGuest)); got != 1 {
		t.Errorf("guest sees %d ZApps, want 1 (jupyter)", got)
	}
}

// TestSampleImages checks that every zoe/ image a sample description uses
// is built by a sample Dockerfile (scripts/images.sh), so the runnable
// ZApps really run without a registry.
func TestSampleImages(t *testing.T) {
	built := map[string]string{}
	dockerfiles, _ := filepath.Glob("sample/*/Dockerfile")
	for _, df := range dockerfiles {
		f, err := os.Open(df)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if tag, ok := strings.CutPrefix(sc.Text(), "# zoe-image:"); ok {
				built[strings.TrimSpace(tag)] = df
			}
			if from, ok := strings.CutPrefix(sc.Text(), "FROM "); ok {
				from = strings.TrimSpace(from)
				if from != "zoe/debian:bookworm" && built[from] == "" && !strings.HasPrefix(from, "zoe/") {
					t.Errorf("%s: FROM %s needs a registry", df, from)
				}
			}
		}
		f.Close()
	}
	if len(built) != 3 {
		t.Fatalf("got images %v, want 3 (jupyter, dask, batch)", built)
	}
	zapps, _ := Load("sample")
	for _, z := range zapps {
		for _, svc := range z.Description.Services {
			if strings.HasPrefix(svc.Image, "zoe/") && built[svc.Image] == "" {
				t.Errorf("%s: service %s uses %s, which no sample Dockerfile builds (have %v)", z.ID, svc.Name, svc.Image, built)
			}
		}
	}
}

func TestVisible(t *testing.T) {
	zapps := map[string]*ZApp{
		"default":   {EnabledFor: []string{"all"}},
		"guestok":   {EnabledFor: []string{"all"}, GuestAccess: true},
		"guestno":   {EnabledFor: []string{"all"}, GuestAccess: true, DisabledFor: []string{"guest"}},
		"students":  {EnabledFor: []string{"student"}},
		"nostudent": {EnabledFor: []string{"all"}, DisabledFor: []string{"student"}},
		"nobody":    {EnabledFor: []string{}},
	}
	tests := []struct {
		role string
		want []string
	}{
		{"admin", []string{"default", "guestno", "guestok", "nobody", "nostudent", "students"}},
		{"guest", []string{"guestok"}},
		{"user", []string{"default", "guestno", "guestok", "nostudent"}},
		{"student", []string{"default", "guestno", "guestok", "students"}},
		{"", []string{"default", "guestno", "guestok", "nostudent"}},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			var got []string
			for _, name := range sortedKeys(zapps) {
				if Visible(zapps[name], tt.role) {
					got = append(got, name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("visible to %q (-want +got):\n%s", tt.role, diff)
			}
		})
	}
}

func TestBrokenFolders(t *testing.T) {
	replace := func(old, new string) map[string]string {
		f := demoFiles()
		f["manifest.json"] = strings.Replace(f["manifest.json"], old, new, 1)
		return f
	}
	with := func(file, content string) map[string]string {
		f := demoFiles()
		f[file] = content
		return f
	}
	tests := []struct {
		name  string
		files map[string]string
		path  string // of the problem
		msg   string // part of its message
	}{
		{"badjson", with("manifest.json", `{"version": 1, "zapps": [`), "badjson/manifest.json", "invalid JSON"},
		{"version", replace(`"version": 1`, `"version": 2`), "version/manifest.json", "version: must be 1, got 2"},
		{"unknownkey", replace(`"category": "Demo"`, `"category": "Demo", "colour": "red"`), "unknownkey/manifest.json", "zapps[0].colour: unknown field"},
		{"unknowntop", replace(`"version": 1`, `"version": 1, "extra": true`), "unknowntop/manifest.json", "extra: unknown field"},
		{"nodescr", replace(`"demo.json"`, `"missing.json"`), "nodescr/missing.json", "cannot read the description"},
		{"descrinvalid", with("demo.json", strings.Replace(demoDescription, `"total_count": 2`, `"total_count": 0`, 1)), "descrinvalid/demo.json", "services[0].total_count: must be at least essential_count"},
		{"descrescape", replace(`"demo.json"`, `"../other/demo.json"`), "descrescape/manifest.json", "zapps[0].description: outside the ZApp folder"},
		{"noreadme", replace(`"README.md"`, `"NOPE.md"`), "noreadme/NOPE.md", "cannot read the readme"},
		{"paramkind", replace(`"kind": "command"`, `"kind": "volume"`), "paramkind/manifest.json", "zapps[0].parameters[2].kind: must be"},
		{"paramtarget", replace(`"name": "GREETING"`, `"name": "NOSUCHVAR"`), "paramtarget/manifest.json", `no service of the description defines the environment variable "NOSUCHVAR"`},
		{"paramservice", replace(`"kind": "command", "name": "web"`, `"kind": "command", "name": "api"`), "paramservice/manifest.json", `no service named "api"`},
		{"parambounds", replace(`"min": 1, "max": 16`, `"min": 20, "max": 16`), "parambounds/manifest.json", "parameters[1].min: 20 exceeds max 16"},
		{"parammissing", replace(`, "min": 1, "max": 16, "step": 1`, ``), "parammissing/manifest.json", "parameters[1].min: required for an integer parameter"},
		{"paramdefault", replace(`"default": 4`, `"default": 40`), "paramdefault/manifest.json", "parameters[1].default: 40 exceeds max 16"},
		{"paramfraction", replace(`"step": 1}`, `"step": 0.5}`), "paramfraction/manifest.json", "parameters[1].step: want a whole number, got 0.5"},
		{"paramdup", replace(`"kind": "command", "name": "web"`, `"kind": "environment", "name": "GREETING"`), "paramdup/manifest.json", `parameters[2].name: duplicate environment parameter "GREETING"`},
		{"logotraversal", replace(`"logo.png"`, `"../../etc/passwd"`), "logotraversal/manifest.json", "zapps[0].logo: bad logo"},
		{"logodotdot", replace(`"logo.png"`, `"../good/logo.png"`), "logodotdot/manifest.json", "leaves the ZApp folder"},
		{"logomissing", replace(`"logo.png"`, `"other.png"`), "logomissing/manifest.json", "zapps[0].logo: no logo"},
		{"badlabel", replace(`["gpu", "ssd"]`, `["gpu", "no spaces"]`), "badlabel/manifest.json", `invalid label "no spaces"`},
		{"Upper", demoFiles(), "Upper", "folder name must be lower case"},
		{"idlebad", replace(`"logo": "logo.png"`, `"logo": "logo.png", "idle_timeout": "soon"`), "idlebad/manifest.json", `zapps[0].idle_timeout: want a duration such as "30m" or "2h", got "soon"`},
		{"idleshort", replace(`"logo": "logo.png"`, `"logo": "logo.png", "idle_timeout": "30s"`), "idleshort/manifest.json", "zapps[0].idle_timeout: must be at least 1m0s, got 30s"},
		{"idlenumber", replace(`"logo": "logo.png"`, `"logo": "logo.png", "idle_timeout": 1800`), "idlenumber/manifest.json", "zapps[0].idle_timeout: want a string, got a number"},
		{"activityservice", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": [{"service": "api", "port": 80, "path": "/status"}]`), "activityservice/manifest.json", `zapps[0].activity_urls[0].service: no service "api" in the description`},
		{"activityport", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": [{"service": "web", "port": 8888, "path": "/status"}]`), "activityport/manifest.json", `zapps[0].activity_urls[0].port: service "web" declares no port 8888`},
		{"activitypath", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": [{"service": "web", "port": 80, "path": "http://elsewhere/"}]`), "activitypath/manifest.json", `zapps[0].activity_urls[0].path: must start with "/" or "{proxy_path}"`},
		{"activityup", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": [{"service": "web", "port": 80, "path": "{proxy_path}../../x"}]`), "activityup/manifest.json", `zapps[0].activity_urls[0].path: must not contain ".."`},
		{"activitykey", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": [{"service": "web", "port": 80, "path": "/", "url": "x"}]`), "activitykey/manifest.json", "zapps[0].activity_urls[0].url: unknown field"},
		{"activitylist", replace(`"logo": "logo.png"`, `"logo": "logo.png", "activity_urls": "/api/status"`), "activitylist/manifest.json", "zapps[0].activity_urls: want a list, got a string"},
	}
	root := t.TempDir()
	writeFolder(t, root, "good", demoFiles())
	for _, tt := range tests {
		writeFolder(t, root, tt.name, tt.files)
	}
	// A directory without a manifest is not a ZApp folder, as in the original.
	writeFolder(t, root, "notazapp", map[string]string{"notes.txt": "x"})

	s := Open(root, nil)
	var ids []string
	for _, z := range s.List(RoleAdmin) {
		ids = append(ids, z.ID)
	}
	if diff := cmp.Diff([]string{"good-0"}, ids); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	problems := s.Problems()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range problems {
				if p.Folder == tt.name || p.Path == tt.name {
					got = append(got, p.String())
					if p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
						return
					}
				}
			}
			t.Errorf("got problems %q, want one at %s containing %q", got, tt.path, tt.msg)
		})
	}
}

// TestGoodEntriesSurvive checks that one bad entry does not take down the
// other entries of its manifest, and that IDs keep the manifest index.
func TestGoodEntriesSurvive(t *testing.T) {
	root := t.TempDir()
	files := demoFiles()
	files["manifest.json"] = `{"version": 1, "zapps": [
	  {"category": "A", "name": "Broken", "description": "nope.json", "readable_descr": "README.md"},
	  {"category": "A", "name": "Good", "description": "demo.json", "readable_descr": "README.md"}]}`
	writeFolder(t, root, "mixed", files)
	s := Open(root, nil)
	if _, ok := s.Get("mixed-1"); !ok {
		t.Errorf("mixed-1 not loaded; problems %v", s.Problems())
	}
	if _, ok := s.Get("mixed-0"); ok {
		t.Error("mixed-0 loaded, want it skipped")
	}
	if got := len(s.Problems()); got != 1 {
		t.Errorf("got %d problems, want 1: %v", got, s.Problems())
	}
}

func TestMissingShopDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	s := Open(dir, nil)
	s.checkEvery = 0
	if got := len(s.Problems()); got != 1 {
		t.Fatalf("got %d problems, want 1 for the missing directory", got)
	}
	writeFolder(t, dir, "demo", demoFiles())
	if _, ok := s.Get("demo-0"); !ok {
		t.Errorf("demo-0 not loaded after the directory appeared; problems %v", s.Problems())
	}
}

func TestReload(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "demo", demoFiles())
	s := Open(root, nil)
	clock := time.Now()
	s.now = func() time.Time { return clock }

	edit := func(file, content string) {
		t.Helper()
		p := filepath.Join(root, "demo", file)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// Make the change visible even on file systems with coarse mtimes.
		future := time.Now().Add(time.Duration(len(content)) * time.Second)
		if err := os.Chtimes(p, future, future); err != nil {
			t.Fatal(err)
		}
	}
	name := func() string {
		z, ok := s.Get("demo-0")
		if !ok {
			return ""
		}
		return z.Name
	}

	edit("manifest.json", strings.Replace(demoManifest, `"name": "Demo"`, `"name": "Renamed"`, 1))
	if got := name(); got != "Demo" {
		t.Errorf("within a second of the last check: got name %q, want the old %q", got, "Demo")
	}
	clock = clock.Add(2 * time.Second)
	if got := name(); got != "Renamed" {
		t.Errorf("after the check interval: got name %q, want %q", got, "Renamed")
	}

	edit("manifest.json", `{"version": 1, "zapps": [}`)
	clock = clock.Add(2 * time.Second)
	if got := name(); got != "" {
		t.Errorf("after breaking the manifest: got ZApp %q, want none", got)
	}
	if p := s.Problems(); len(p) != 1 || p[0].Path != "demo/manifest.json" {
		t.Errorf("got problems %v, want one for demo/manifest.json", p)
	}

	edit("manifest.json", demoManifest)
	edit("README.md", "Changed readme.\n")
	clock = clock.Add(2 * time.Second)
	z, ok := s.Get("demo-0")
	if !ok || z.Summary != "Changed readme." {
		t.Errorf("after fixing: got %v %+v, want the ZApp with the new readme", ok, z)
	}
	if p := s.Problems(); len(p) != 0 {
		t.Errorf("got problems %v after fixing, want none", p)
	}
}

// TestConcurrentAccess runs readers while the shop reloads; -race checks it.
func TestConcurrentAccess(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "demo", demoFiles())
	s := Open(root, nil)
	s.checkEvery = 0
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				for _, z := range s.List("user") {
					_, _ = z.Instantiate(Request{})
				}
				s.Problems()
				_, _ = s.Logo("demo-0")
			}
		}()
	}
	for i := range 20 {
		writeFolder(t, root, "demo", map[string]string{"README.md": strings.Repeat("x", i+1) + "\n"})
	}
	for range 4 {
		<-done
	}
}

func TestLogo(t *testing.T) {
	root := t.TempDir()
	writeFolder(t, root, "demo", demoFiles())
	writeFolder(t, root, "outside", map[string]string{"secret.png": "secret"})
	s := Open(root, nil)
	s.checkEvery = 0
	path, err := s.Logo("demo-0")
	if err != nil || filepath.Base(path) != "logo.png" || !filepath.IsAbs(path) {
		t.Fatalf("got %q, %v, want the absolute path of logo.png", path, err)
	}
	if got := LogoType(path); got != "image/png" {
		t.Errorf("got type %q, want image/png", got)
	}
	if _, err := s.Logo("nope-0"); err == nil {
		t.Error("logo of an unknown ZApp: got no error")
	}

	// Replacing the logo by a link that leaves the folder must not serve it,
	// even before the shop reloads.
	logo := filepath.Join(root, "demo", "logo.png")
	if err := os.Remove(logo); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "outside", "secret.png"), logo); err != nil {
		t.Fatal(err)
	}
	if path, err := s.Logo("demo-0"); err == nil {
		t.Errorf("logo through a symbolic link out of the folder: got %q, want an error", path)
	}
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0].Message, "link to outside") {
		t.Errorf("got problems %v, want the escaping link", p)
	}
}

func TestNoDefaultLogo(t *testing.T) {
	root := t.TempDir()
	files := demoFiles()
	delete(files, "logo.png")
	files["manifest.json"] = strings.Replace(demoManifest, `, "logo": "logo.png"`, ``, 1)
	writeFolder(t, root, "demo", files)
	s := Open(root, nil)
	z, ok := s.Get("demo-0")
	if !ok {
		t.Fatalf("not loaded: %v", s.Problems())
	}
	if z.LogoFile != "" {
		t.Errorf("got logo %q, want none", z.LogoFile)
	}
	if _, err := s.Logo("demo-0"); err == nil {
		t.Error("got no error, want ErrNoLogo")
	}
}

// TestReloadLinkedFolder checks that edits inside a folder linked into the
// shop (a common way to deploy one) are noticed too.
func TestReloadLinkedFolder(t *testing.T) {
	elsewhere, root := t.TempDir(), t.TempDir()
	writeFolder(t, elsewhere, "demo", demoFiles())
	if err := os.Symlink(filepath.Join(elsewhere, "demo"), filepath.Join(root, "demo")); err != nil {
		t.Fatal(err)
	}
	s := Open(root, nil)
	s.checkEvery = 0
	if _, ok := s.Get("demo-0"); !ok {
		t.Fatalf("linked folder not loaded: %v", s.Problems())
	}
	writeFolder(t, elsewhere, "demo", map[string]string{"README.md": "Edited through the link, longer.\n"})
	z, ok := s.Get("demo-0")
	if !ok {
		t.Fatalf("not loaded after the edit: %v", s.Problems())
	}
	if want := "Edited through the link, longer."; z.Summary != want {
		t.Errorf("got summary %q, want %q", z.Summary, want)
	}
}
