package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// Request is a validated ask to run a ZApp.
type Request struct {
	Name        string
	ZappID      string // shop id, "" for a description submitted as JSON
	Description *zapp.Description
	// IdleTimeout is the ZApp's idle timeout (0 none): it can only
	// shorten the owner's role's (EffectiveIdle).
	IdleTimeout time.Duration
	// Activity is where the culler asks the services whether they are in
	// use before terminating an execution that saw no traffic.
	Activity []zapp.ActivityURL
}

// MaxNameLength bounds execution names; they are shown in lists and
// container labels, never used as host names.
const MaxNameLength = 64

// checkName returns the problem with an execution name, or "".
func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "must not be empty"
	case !utf8.ValidString(name):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Sprintf("must be at most %d characters", MaxNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}

// Submit records an execution for owner and queues it. The description
// must have been validated with the trust its origin deserves. Quota
// refusals are *auth.QuotaError; an invalid name is zapp.Errors.
func (m *Manager) Submit(ctx context.Context, owner store.User, req Request) (int64, error) {
	if msg := checkName(req.Name); msg != "" {
		return 0, zapp.Errors{{Path: "name", Message: msg}}
	}
	d := req.Description
	raw, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("encode description: %w", err)
	}
	insts := d.Instances()
	services := make([]store.Service, 0, len(insts))
	var mem, milli int64
	for _, in := range insts {
		sraw, err := json.Marshal(in.Service)
		if err != nil {
			return 0, fmt.Errorf("encode service %s: %w", in.Name, err)
		}
		s := store.Service{
			Name:          in.Name,
			Group:         in.Group,
			Essential:     in.Essential,
			Description:   sraw,
			Status:        store.ServiceCreated,
			BackendStatus: store.BackendUndefined,
			Memory:        int64(in.Service.Resources.Memory.Min),
			MilliCores:    int64(in.Service.Resources.Cores.Min),
		}
		for _, p := range in.Service.Ports {
			s.Ports = append(s.Ports, store.Port{Name: p.Name, Number: p.PortNumber, Protocol: p.Protocol, URLTemplate: p.URLTemplate, Proxy: p.Proxy})
		}
		mem += s.Memory
		milli += s.MilliCores
		services = append(services, s)
	}

	var activity []byte
	if len(req.Activity) > 0 {
		if activity, err = json.Marshal(req.Activity); err != nil {
			return 0, fmt.Errorf("encode activity URLs: %w", err)
		}
	}
	idle := EffectiveIdle(m.cfg.Idle.For(owner.Role), req.IdleTimeout)

	now := m.cfg.Now().UTC()
	e := &store.Execution{
		Name:        req.Name,
		UserID:      owner.ID,
		ZappID:      req.ZappID,
		Description: raw,
		Status:      store.StatusSubmitted,
		Size:        float64(d.Size),
		Memory:      mem,
		MilliCores:  milli,
		SubmittedAt: now,
		IdleTimeout: &idle,
		Activity:    activity,
	}
	// The quota is checked inside the insert's transaction, with the
	// owner's row locked, so two quick submissions (even to two Zoe
	// processes) cannot both squeeze under the limit.
	role := auth.Role(owner.Role)
	id, err := m.st.CreateExecutionWithQuota(ctx, e, services, func(q store.Quota, u store.Usage) error {
		return auth.CheckQuota(auth.EffectiveQuota(role, q), u, auth.Request{Memory: mem, MilliCores: milli})
	})
	if err != nil {
		var qe *auth.QuotaError
		if errors.As(err, &qe) {
			return 0, qe
		}
		return 0, fmt.Errorf("record execution: %w", err)
	}
	m.event(ctx, id, "submitted", fmt.Sprintf("submitted by %s", owner.Username))
	m.mu.Lock()
	m.counters.Submitted++
	m.mu.Unlock()
	m.Trigger()
	return id, nil
}
