package lifecycle

import (
	"testing"

	"github.com/zoe-analytics/zoe/backend"
)

func TestOwnWork(t *testing.T) {
	m := &Manager{inflight: map[int64]bool{7: true}}
	labels := func(id string) map[string]string { return map[string]string{backend.LabelExecution: id} }
	tests := []struct {
		name string
		ev   backend.Event
		want bool
	}{
		{"start of a container the loop is starting", backend.Event{Action: backend.ActionStart, Labels: labels("7")}, true},
		{"die during the loop's work", backend.Event{Action: backend.ActionDie, Labels: labels("7")}, true},
		{"start of another execution's container", backend.Event{Action: backend.ActionStart, Labels: labels("8")}, false},
		{"die of another execution's container", backend.Event{Action: backend.ActionDie, Labels: labels("8")}, false},
		{"a container without an execution", backend.Event{Action: backend.ActionStart, Labels: map[string]string{}}, false},
		{"a garbled execution label", backend.Event{Action: backend.ActionStart, Labels: labels("7x")}, false},
		{"a host to resync", backend.Event{Action: backend.ActionResync, Labels: labels("7")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.ownWork(tt.ev); got != tt.want {
				t.Errorf("ownWork: got %v, want %v", got, tt.want)
			}
		})
	}
}
