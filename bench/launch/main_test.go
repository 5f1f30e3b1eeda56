package main

import (
	"os"
	"strings"
	"testing"
)

// TestRunSmall runs the whole benchmark at its smallest, so that `make
// test` keeps `make bench` working. Figures of so few runs mean nothing:
// only the report's parts are checked, never a time.
func TestRunSmall(t *testing.T) {
	host := os.Getenv("ZOE_TEST_DOCKER_HOST")
	if host == "" {
		t.Fatal("ZOE_TEST_DOCKER_HOST not set: run `make test` (or scripts/testenv.sh up and source .testenv/env)")
	}
	var out strings.Builder
	if err := run(&out, host, 1, 2, 1, 2, true, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| Zoe: Submit → running",
		"| Zoe (2 of 2 joined a network made beforehand)",
		"Ratio Zoe / limit, 2 at once, round by round",
		"| Start (create, start, inspect) |",
		"| the back-end alone: Zoe's container",
		"Split at the back-end, round by round",
		"lists begun before the last launch was running",
		"After the engine: from the back-end's Start returning",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
