package zapp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMarshalCanonical(t *testing.T) {
	in := `{"name": "app", "version": 3, "will_end": true, "size": 0,
	  "services": [{"name": "web", "image": "busybox", "monitor": true,
	    "essential_count": 1, "total_count": 1, "startup_order": 0,
	    "resources": {"memory": {"min": "512MiB", "max": null}, "cores": {"min": 0.5, "max": 0}, "shm": "64MiB"},
	    "ports": [], "environment": [["A", "{{b}}"]], "volumes": [], "command": "sleep 1", "labels": []}]}`
	d, err := Parse([]byte(in), TrustUser)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"app","version":3,"will_end":true,"size":0,"services":[{"name":"web","image":"busybox","monitor":true,` +
		`"essential_count":1,"total_count":1,"startup_order":0,` +
		`"resources":{"memory":{"min":536870912,"max":null},"cores":{"min":0.5,"max":null},"shm":67108864},` +
		`"ports":[],"environment":[["A","{{b}}"]],"volumes":[],"command":"sleep 1"}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// The value form marshals the same way as the pointer.
	if byValue, _ := json.Marshal(*d); string(byValue) != want {
		t.Errorf("by value: got %s", byValue)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	want, err := Parse(readFixture(t, "spark.json"), TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	var got Description
	if err := json.Unmarshal(readFixture(t, "spark.json"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("Unmarshal vs Parse (-want +got):\n%s", diff)
	}
	// Strict, but no validation: version 2 decodes, an unknown field does not.
	if err := json.Unmarshal([]byte(`{"name":"x","version":2,"will_end":false,"size":0,"services":[]}`), &got); err != nil {
		t.Errorf("got %v, want no error", err)
	}
	err = json.Unmarshal([]byte(`{"name":"x","version":3,"will_end":false,"size":0,"services":[],"privileged":true}`), &got)
	if err == nil || err.Error() != "privileged: unknown field" {
		t.Errorf("got %v, want privileged: unknown field", err)
	}
}

func TestUnmarshalService(t *testing.T) {
	d, err := Parse(readFixture(t, "spark.json"), TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range d.Services {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Service
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, diff)
		}
	}
	var s Service
	err = json.Unmarshal([]byte(`{"name": "x", "cap_add": ["ALL"]}`), &s)
	if err == nil || !strings.Contains(err.Error(), "cap_add: unknown field") {
		t.Errorf("got %v, want cap_add: unknown field", err)
	}
}
