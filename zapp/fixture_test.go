package zapp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestFixturesValidate(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("got %d fixtures, want at least 3", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			d, err := Parse(readFixture(t, filepath.Base(f)), TrustShop)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(out, TrustShop)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v\n%s", err, out)
			}
			if diff := cmp.Diff(d, again); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}
