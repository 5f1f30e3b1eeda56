package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodDescription = `{"name": "demo", "version": 3, "will_end": false, "size": 1,
  "services": [{"name": "web", "image": "zoe/busybox:test", "monitor": true,
    "essential_count": 1, "total_count": 1, "startup_order": 0,
    "resources": {"memory": {"min": "64MiB", "max": null}, "cores": {"min": 1, "max": null}},
    "ports": [], "environment": [], "volumes": [], "command": null}]}`

func TestZappValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", goodDescription)
	bad := write("bad.json", strings.Replace(strings.Replace(goodDescription, `"total_count": 1`, `"total_count": 0`, 1), `"size": 1`, `"size": 1, "colour": "red"`, 1))
	volume := write("volume.json", strings.Replace(goodDescription, `"volumes": []`, `"volumes": [{"name": "data", "path": "/srv/data", "read_only": true}]`, 1))
	write("myshop/broken/manifest.json", `{"version": 1, "zapps": [
	  {"category": "A", "name": "Good", "description": "good.json", "readable_descr": "README.md"},
	  {"category": "A", "name": "Bad", "description": "bad.json", "readable_descr": "README.md", "logo": "../../x.png"}]}`)
	write("myshop/broken/good.json", goodDescription)
	write("myshop/broken/bad.json", goodDescription)
	write("myshop/broken/README.md", "Hello.")
	write("empty/notes.txt", "not a shop")
	brokenFolder := filepath.Join(dir, "myshop", "broken")
	sample := filepath.Join("..", "..", "shop", "sample")

	tests := []struct {
		name     string
		args     []string
		want     []string // stdout lines
		wantCode int
	}{
		{"good file", []string{"validate", good}, []string{"ok " + good}, 0},
		{"bad file lists every error", []string{"validate", bad}, []string{
			bad + ": colour: unknown field",
			bad + ": services[0].total_count: must be at least essential_count (1), got 0",
		}, 1},
		{"volumes allowed for the shop", []string{"validate", volume}, []string{"ok " + volume}, 0},
		{"volumes refused with --user", []string{"validate", "--user", volume}, []string{
			volume + ": services[0].volumes[0]: host volumes may be declared only by descriptions from the shop; your workspace is mounted at /mnt/workspace",
		}, 1},
		{"broken folder", []string{"validate", brokenFolder}, []string{
			filepath.Join(brokenFolder, "manifest.json") + `: zapps[1].logo: outside the ZApp folder: "../../x.png" leaves the ZApp folder`,
			"ok " + filepath.Join(brokenFolder, "good.json"),
		}, 1},
		{"whole shop", []string{"validate", filepath.Join(dir, "myshop")}, []string{
			filepath.Join(brokenFolder, "manifest.json") + `: zapps[1].logo: outside the ZApp folder: "../../x.png" leaves the ZApp folder`,
			"ok " + filepath.Join(brokenFolder, "good.json"),
		}, 1},
		{"sample shop", []string{"validate", sample}, []string{
			"ok " + filepath.Join(sample, "batch", "batch.json"),
			"ok " + filepath.Join(sample, "dask", "dask.json"),
			"ok " + filepath.Join(sample, "jupyter", "jupyter.json"),
			"ok " + filepath.Join(sample, "spark", "spark.json"),
			"ok " + filepath.Join(sample, "spark", "clouds.json"),
		}, 0},
		{"not a shop", []string{"validate", filepath.Join(dir, "empty")}, []string{
			filepath.Join(dir, "empty") + ": not a description, a shop folder (no manifest.json) or a shop (no folder with one)",
		}, 1},
		{"missing file", []string{"validate", filepath.Join(dir, "nope.json")}, []string{
			filepath.Join(dir, "nope.json") + ": no such file or directory",
		}, 1},
		{"good and bad together", []string{"validate", good, bad}, []string{
			"ok " + good,
			bad + ": colour: unknown field",
			bad + ": services[0].total_count: must be at least essential_count (1), got 0",
		}, 1},
		{"no command", nil, nil, 2},
		{"help", []string{"--help"}, nil, 0},
		{"unknown command", []string{"check", good}, nil, 2},
		{"no files", []string{"validate"}, nil, 2},
		{"bad flag", []string{"validate", "--nope", good}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runZapp(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("got exit status %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			var got []string
			if s := strings.TrimSpace(stdout.String()); s != "" {
				got = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if tt.wantCode == 2 && !strings.Contains(stderr.String(), "Usage: zoe zapp validate") {
				t.Errorf("got stderr %q, want the usage", stderr.String())
			}
		})
	}
}
