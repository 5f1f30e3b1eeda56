package lifecycle

import (
	"context"
	"fmt"

	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// Preview tells whether d would start now if it were submitted, and if
// not, why: it plans the current queue with d added at its end. It changes
// nothing.
func (m *Manager) Preview(ctx context.Context, d *zapp.Description) (fits bool, why scheduler.Wait, err error) {
	active, err := m.st.ActiveExecutions(ctx)
	if err != nil {
		return false, why, fmt.Errorf("preview: %w", err)
	}
	var queue []store.Execution
	var last int64
	for _, e := range active {
		if e.ID > last {
			last = e.ID
		}
		switch e.Status {
		case store.StatusSubmitted, store.StatusQueued, store.StatusStarting, store.StatusRunning:
			queue = append(queue, e)
		}
	}
	snap := m.snapshot(queue, nil)
	probe := scheduler.Request{ID: -1, Size: float64(d.Size), Order: last + 1, Queued: m.cfg.Now()}
	for _, in := range d.Instances() {
		probe.Instances = append(probe.Instances, scheduler.Instance{
			Name: in.Name, Group: in.Group, Essential: in.Essential,
			Memory: int64(in.Service.Resources.Memory.Min), MilliCores: int64(in.Service.Resources.Cores.Min),
			Labels: in.Service.Labels, Image: zapp.ImageRef(in.Service.Image),
		})
	}
	snap.Requests = append(snap.Requests, probe)
	plan := m.sch.Plan(snap)
	for _, a := range plan.Starts {
		if a.Request == -1 {
			return true, why, nil
		}
	}
	for _, w := range plan.Waiting {
		if w.Request == -1 {
			return false, w, nil
		}
	}
	return false, scheduler.Wait{Reason: "it would wait behind the queue"}, nil
}
