package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/backend"
)

// registryImage pushes an image made from the test image on the host named
// from to the private registry of the test command, and makes sure the host
// named to lacks it. It returns the image's name. The image is made unique
// (a label of its own): an engine that has an image of the same digest
// under another name, pulled by a test running alongside, would only tag
// it, with no layers to report.
func registryImage(t *testing.T, b *Backend, from, to string) string {
	t.Helper()
	reg := os.Getenv("ZOE_TEST_REGISTRY")
	if reg == "" {
		t.Fatal("ZOE_TEST_REGISTRY not set: run `make test` (scripts/testenv.sh up starts the registry)")
	}
	ctx := testContext(t)
	unique := uniqueName("busybox-")
	ref := reg + "/zoe/" + unique + ":test"
	src := b.byName[from].cli
	t.Cleanup(func() {
		// t.Context() is over by now.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, h := range []string{from, to} {
			if _, err := b.byName[h].cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true}); err != nil && !isNotFound(classify(err)) {
				t.Errorf("cleanup: remove %s from %s: %v", ref, h, err)
			}
		}
	})
	c, err := src.ContainerCreate(ctx, &container.Config{Image: testImage}, nil, nil, nil, "")
	if err != nil {
		t.Fatalf("create a container to commit: %v", err)
	}
	_, err = src.ContainerCommit(ctx, c.ID, container.CommitOptions{Reference: ref, Changes: []string{"LABEL zoe.test=" + unique}})
	_ = src.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	if err != nil {
		t.Fatalf("commit %s: %v", ref, err)
	}
	// A registry without authentication still wants the header.
	rc, err := src.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	out, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || strings.Contains(string(out), `"error"`) {
		t.Fatalf("push %s: %v %s", ref, err, out)
	}
	if _, err := b.byName[to].cli.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil && !isNotFound(classify(err)) {
		t.Fatalf("remove %s from %s: %v", ref, to, err)
	}
	return ref
}

func TestEnsureImagePullsWithProgress(t *testing.T) {
	b := newTestBackend(t, engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"), engineHost(t, "ZOE_TEST_DOCKER_HOST2", "h2"))
	ref := registryImage(t, b, "h1", "h2")
	ctx := testContext(t)

	var reports []backend.PullProgress
	pulled, err := b.EnsureImage(ctx, "h2", ref, func(p backend.PullProgress) { reports = append(reports, p) })
	if err != nil || !pulled {
		t.Fatalf("EnsureImage: got pulled %v, err %v; want a pull", pulled, err)
	}
	if len(reports) == 0 {
		t.Fatal("got no progress reports")
	}
	for i := 1; i < len(reports); i++ {
		if reports[i].Percent < reports[i-1].Percent {
			t.Errorf("progress went back from %d%% to %d%%", reports[i-1].Percent, reports[i].Percent)
		}
	}
	last := reports[len(reports)-1]
	t.Logf("%d reports, the last %+v", len(reports), last)
	if last.Image != ref || last.Host != "h2" || last.Percent != 100 || last.Layers < 1 || last.LayersDone != last.Layers {
		t.Errorf("last report: got %+v, want 100%% of every layer of %s on h2", last, ref)
	}
	// The container starts from the pulled image.
	mustStart(t, b, "h2", backend.ServiceSpec{Name: uniqueName("pulled-"), Image: ref, Command: []string{"true"}, Network: withNetwork(t, b, "h2")})

	// Once there, nothing is pulled again.
	reports = nil
	pulled, err = b.EnsureImage(ctx, "h2", ref, func(p backend.PullProgress) { reports = append(reports, p) })
	if err != nil || pulled || len(reports) != 0 {
		t.Errorf("second EnsureImage: got pulled %v, %d reports, err %v; want no pull", pulled, len(reports), err)
	}
}

func TestEnsureImageErrors(t *testing.T) {
	h1, h2 := engineHost(t, "ZOE_TEST_DOCKER_HOST", "h1"), engineHost(t, "ZOE_TEST_DOCKER_HOST2", "h2")
	pulling := newTestBackend(t, h1, h2)
	never, err := New([]HostConfig{h1, h2}, Options{Deployment: uniqueName("zt"), ImagePull: backend.PullNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { never.Close() })
	ref := registryImage(t, pulling, "h1", "h2")

	tests := []struct {
		name    string
		b       *Backend
		image   string
		wantMsg string
	}{
		{
			name:    "never pulls",
			b:       never,
			image:   ref,
			wantMsg: "image " + ref + " is not on host h2",
		},
		{
			// A registry on a closed local port fails at once.
			name:    "registry unreachable",
			b:       pulling,
			image:   "127.0.0.1:1/zoe/nothing:1",
			wantMsg: "image 127.0.0.1:1/zoe/nothing:1 is not on host h2 and could not be pulled: ",
		},
		{
			name:    "not in the registry",
			b:       pulling,
			image:   ref + "-not-pushed",
			wantMsg: "image " + ref + "-not-pushed is not on host h2 and could not be pulled: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			pulled, err := tt.b.EnsureImage(testContext(t), "h2", tt.image, func(backend.PullProgress) { called = true })
			var ime *backend.ImageMissingError
			if !errors.As(err, &ime) || ime.Image != tt.image || ime.Host != "h2" {
				t.Fatalf("got %v, want an ImageMissingError for %s on h2", err, tt.image)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, want it to start with %q", err, tt.wantMsg)
			}
			if pulled || backend.IsRetryable(err) {
				t.Errorf("got pulled %v, retryable %v; want neither", pulled, backend.IsRetryable(err))
			}
			if tt.b == never && called {
				t.Error("progress was reported although nothing may be pulled")
			}
		})
	}
	if _, err := pulling.byName["h2"].cli.ImageInspect(testContext(t), ref); !isNotFound(classify(err)) {
		t.Errorf("%s on h2 after the failures: got %v, want it still missing", ref, err)
	}
	if _, err := New([]HostConfig{h1}, Options{Deployment: "x", ImagePull: "always"}); err == nil || !strings.Contains(err.Error(), `"always"`) {
		t.Errorf("New with image pull always: got %v, want an error naming it", err)
	}
}

// TestPullTracker replays an engine's stream of a two-layer pull where one
// layer was there already.
func TestPullTracker(t *testing.T) {
	stream := `
{"status":"Pulling from zoe/busybox","id":"test"}
{"status":"Already exists","progressDetail":{},"id":"aaa"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}
{"status":"Downloading","progressDetail":{"current":500,"total":1000},"id":"bbb"}
{"status":"Download complete","progressDetail":{},"id":"bbb"}
{"status":"Extracting","progressDetail":{"current":1000,"total":1000},"id":"bbb"}
{"status":"Pull complete","progressDetail":{},"id":"bbb"}
{"status":"Digest: sha256:0123"}
{"status":"Status: Downloaded newer image for r/zoe/busybox:test"}`
	tr := newPullTracker("r/zoe/busybox:test", "h2")
	var got []backend.PullProgress
	dec := json.NewDecoder(strings.NewReader(stream))
	for dec.More() {
		var m pullMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if tr.update(m) {
			got = append(got, tr.progress())
		}
	}
	got = append(got, tr.finish())
	p := func(layers, done int, down, size int64, pct int) backend.PullProgress {
		return backend.PullProgress{Image: "r/zoe/busybox:test", Host: "h2", Layers: layers, LayersDone: done, Downloaded: down, Size: size, Percent: pct}
	}
	want := []backend.PullProgress{
		p(2, 1, 500, 1000, 62),
		p(2, 1, 1000, 1000, 75),
		p(2, 1, 1000, 1000, 99), // 100 only once the engine is done
		p(2, 2, 1000, 1000, 99),
		p(2, 2, 1000, 1000, 100),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("progress (-want +got):\n%s", d)
	}
}
