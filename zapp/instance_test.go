package zapp

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInstancesSpark(t *testing.T) {
	d, err := Parse(readFixture(t, "spark.json"), TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name, Group string
		Index       int
		Essential   bool
	}
	var got []row
	for _, in := range d.Instances() {
		got = append(got, row{in.Name, in.Group, in.Index, in.Essential})
		if in.Service.Name != in.Group {
			t.Errorf("%s: Service.Name %q, want %q", in.Name, in.Service.Name, in.Group)
		}
	}
	want := []row{
		{"spark-master0", "spark-master", 0, true},
		{"spark-worker0", "spark-worker", 0, true},
		{"spark-worker1", "spark-worker", 1, false},
		{"spark-jupyter0", "spark-jupyter", 0, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
	if in := d.Instances()[2]; in.Service != &d.Services[1] {
		t.Errorf("Service points to %p, want %p (the description's own service)", in.Service, &d.Services[1])
	}
}

var hashSuffix = regexp.MustCompile(`-[0-9a-f]{8}$`)

func TestDNSName(t *testing.T) {
	long := strings.Repeat("a", 16) + "0"
	tests := []struct {
		name     string
		instance string
		id       int64
		deploy   string
		want     string
	}{
		{"plain", "spark-worker1", 42, "prod", "spark-worker1-42-prod"},
		{"lower-cased", "Spark-Master0", 7, "Prod", "spark-master0-7-prod"},
		{"invalid characters", "web0", 1, "my_site.eu", "web0-1-my-site-eu"},
		{"trailing hyphen", "web0", 1, "prod-", "web0-1-prod"},
		{"fits 63", long, 123456, strings.Repeat("d", 38), long + "-123456-" + strings.Repeat("d", 38)},
		// Cut to 54 characters, then "-" and 8 hex digits of a hash.
		{"too long", long, 123456, strings.Repeat("d", 39), long + "-123456-" + strings.Repeat("d", 29) + "-########"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DNSName(tt.instance, tt.id, tt.deploy)
			if strings.HasSuffix(tt.want, "-########") && hashSuffix.MatchString(got) {
				got = got[:len(got)-8] + "########"
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > 63 {
				t.Errorf("got %d characters, want at most 63", len(got))
			}
		})
	}
	// Distinct long names stay distinct after truncation.
	a := DNSName(long, 1, strings.Repeat("d", 60)+"a")
	b := DNSName(long, 1, strings.Repeat("d", 60)+"b")
	if a == b {
		t.Errorf("got the same name %q for two deployments", a)
	}
}

func TestVars(t *testing.T) {
	d, err := Parse(readFixture(t, "spark.json"), TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	got := d.Vars("spark-worker1", Execution{ID: 42, Name: "my spark", User: "alice", Deployment: "prod"})
	want := Vars{
		"execution_id":            "42",
		"execution_name":          "my spark",
		"user_name":               "alice",
		"deployment_name":         "prod",
		"dns_name#self":           "spark-worker1-42-prod",
		"dns_name#spark-master0":  "spark-master0-42-prod",
		"dns_name#spark-worker0":  "spark-worker0-42-prod",
		"dns_name#spark-worker1":  "spark-worker1-42-prod",
		"dns_name#spark-jupyter0": "spark-jupyter0-42-prod",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vars (-want +got):\n%s", diff)
	}
	// Every environment template of a valid description expands with these
	// variables plus proxy_path.
	got["proxy_path"] = ""
	for _, s := range d.Services {
		for _, e := range s.Environment {
			if _, err := Expand(e.Value, got); err != nil {
				t.Errorf("%s %s: %v", s.Name, e.Name, err)
			}
		}
	}
}
