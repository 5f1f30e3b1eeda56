package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs every piece at its smallest against freshly built
// binaries, as scripts/bench.sh does, so that `make test` keeps `make
// bench` working. Figures of so short a run mean nothing: only the
// report's parts are checked, never a speed.
func TestRunSmall(t *testing.T) {
	host := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if host == "" {
		t.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test` (or scripts/testenv.sh up and source .testenv/env)")
	}
	dir := t.TempDir()
	build := func(out, pkg string, env ...string) string {
		t.Helper()
		bin := filepath.Join(dir, out)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v: %s", pkg, err, b)
		}
		return bin
	}
	zoe := build("zoe", "../../cmd/zoe")
	echo := build("echo", "../echo", "CGO_ENABLED=0")
	const image = "zoe/bench-echo:smoke"
	imp := exec.Command("sh", "-c", `tar -C "$1" -c echo | docker -H "$2" import -c 'CMD ["/echo", "-listen", ":8080"]' - "$3"`, "sh", dir, host, image)
	if b, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, b)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "-H", host, "rmi", "-f", image).Run() })

	var out strings.Builder
	o := options{
		zoe: zoe, echoBin: echo, echoImage: image, docker: host, shop: "../../shop/sample",
		pieces:      map[string]bool{"proxy": true, "portal": true, "memory": true},
		concurrency: 2, executions: 20, pollers: 3, duration: 200 * time.Millisecond, out: &out,
	}
	if err := run(o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"| through Zoe, proxy-target = published | 2 |",
		"| through Zoe, proxy-target = container | 2 |",
		"| through Zoe, proxy-target = published | 1 |",
		"| execution status fragment",
		"| 3 clients polling the status fragment every 2 s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
