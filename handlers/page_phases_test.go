package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	zbackend "github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/views"
)

// TestStatusShowsStartPhases renders the status fragment of an execution
// whose services are at each step of their start.
func TestStatusShowsStartPhases(t *testing.T) {
	st := views.ExecutionStatus{ID: 7, Status: "starting", Active: true, Phase: "Starting: 0 of 4 containers running.",
		Services: []views.ServiceRow{{Name: "web0"}, {Name: "db0"}, {Name: "worker0"}, {Name: "idle0"}}}
	showPhases(&st, []lifecycle.Phase{
		{Service: "db0", Step: lifecycle.StepImage, Image: "zoe/db:1", Host: "h1"},
		{Service: "web0", Step: lifecycle.StepPulling, Image: "zoe/web:2", Host: "h2",
			Pull: zbackend.PullProgress{Layers: 5, LayersDone: 2, Downloaded: 12 << 20, Size: 30 << 20, Percent: 40}},
		{Service: "worker0", Step: lifecycle.StepStarting, Image: "zoe/w:1", Host: "h1"},
		{Service: "gone0", Step: lifecycle.StepStarting}, // not a row: ignored
	})
	var b strings.Builder
	if err := views.ExecutionStatusPart(st).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Find("[data-testid=phase]").Text(), "Starting: 0 of 4 containers running. Pulling images: web0 40%."; got != want {
		t.Errorf("phase: got %q, want %q", got, want)
	}
	tests := []struct {
		service  string
		text     string
		progress bool
	}{
		{"web0", "Pulling image zoe/web:2 onto h2.", true},
		{"db0", "Looking for image zoe/db:1 on h1.", false},
		{"worker0", "Creating its container on h1.", false},
		{"idle0", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			row := doc.Find(`[data-testid=service-row][data-service="` + tt.service + `"]`)
			if got := strings.TrimSpace(row.Find("[data-testid=service-phase] small").First().Text()); got != tt.text {
				t.Errorf("phase: got %q, want %q", got, tt.text)
			}
			bar := row.Find("progress[data-testid=pull-progress]")
			if got := bar.Length() == 1; got != tt.progress {
				t.Fatalf("progress bar: got %v, want %v", got, tt.progress)
			}
			if !tt.progress {
				return
			}
			for attr, want := range map[string]string{"value": "40", "max": "100", "aria-label": "Image pull of web0"} {
				if got, _ := bar.Attr(attr); got != want {
					t.Errorf("progress %s: got %q, want %q", attr, got, want)
				}
			}
			if got, want := row.Find("[data-testid=pull-detail]").Text(), "40% · 2 of 5 layers, 12 MiB of 30 MiB"; got != want {
				t.Errorf("detail: got %q, want %q", got, want)
			}
		})
	}
}
