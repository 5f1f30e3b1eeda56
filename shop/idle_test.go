package shop

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/zapp"
)

func TestIdleSettings(t *testing.T) {
	root := t.TempDir()
	files := demoFiles()
	files["manifest.json"] = strings.Replace(files["manifest.json"], `"logo": "logo.png"`, `"logo": "logo.png", "idle_timeout": "45m"`, 1)
	writeFolder(t, root, "demo", files)
	s := Open(root, nil)
	if p := s.Problems(); len(p) != 0 {
		t.Fatalf("got problems %v, want none", p)
	}
	z, ok := s.Get("demo-0")
	if !ok {
		t.Fatal("demo-0 not loaded")
	}
	if z.IdleTimeout != 45*time.Minute || z.ActivityURLs != nil {
		t.Errorf("got idle timeout %s and activity URLs %v, want 45m and none", z.IdleTimeout, z.ActivityURLs)
	}

	// The sample Jupyter asks the notebook server before it is culled.
	sample := Open("sample", nil)
	j, ok := sample.Get("jupyter-0")
	if !ok {
		t.Fatal("jupyter-0 not in the sample shop")
	}
	want := []zapp.ActivityURL{
		{Service: "notebook", Port: 8888, Path: "{proxy_path}api/status"},
		{Service: "notebook", Port: 8888, Path: "{proxy_path}api/kernels"},
	}
	if diff := cmp.Diff(want, j.ActivityURLs); diff != "" {
		t.Errorf("jupyter activity URLs (-want +got):\n%s", diff)
	}
	if j.IdleTimeout != 0 {
		t.Errorf("got idle timeout %s for the sample Jupyter, want none (the role's applies)", j.IdleTimeout)
	}
}
