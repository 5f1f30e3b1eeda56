package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/store"
)

// pool holds, per host, bridge networks made ahead of need. Creating an
// execution's own bridge is most of what a launch costs beyond a raw
// `docker run` (docs/benchmarks.md), so an execution that runs on one
// host claims a ready network instead, and the loop makes a new one after
// the launch, when no start is waiting on the engine.
//
// Engine labels cannot change, so "claimed" is not a label: a network is
// the execution's once the store records it (store.SetExecutionNetwork),
// and that record is written before any container joins the network. A
// network no execution ever recorded has therefore never held a service,
// which is what lets a restarted Zoe hand it out again.
type pool struct {
	size int

	mu      sync.Mutex
	ready   map[string][]string // host → networks nobody has claimed
	pending map[string]bool     // being made or being claimed: known, but in neither ready nor the store
	filling bool
}

func newPool(size int) *pool {
	return &pool{size: max(size, 0), ready: map[string][]string{}, pending: map[string]bool{}}
}

// take removes a ready network of host from the pool and marks it
// pending, until done is called with it.
func (p *pool) take(host string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ns := p.ready[host]
	if len(ns) == 0 {
		return "", false
	}
	name := ns[0]
	p.ready[host] = ns[1:]
	p.pending[name] = true
	return name, true
}

// reserve marks name pending while it is being made, so that the sweep
// does not take it for a leftover before it joins the pool.
func (p *pool) reserve(name string) {
	p.mu.Lock()
	p.pending[name] = true
	p.mu.Unlock()
}

// done ends the pending state of name, adding it to host's ready networks
// when ready is true.
func (p *pool) done(host, name string, ready bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pending, name)
	if ready {
		p.ready[host] = append(p.ready[host], name)
	}
}

// known returns every network the pool holds or is working on.
func (p *pool) known() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(p.pending))
	for n := range p.pending {
		out[n] = true
	}
	for _, ns := range p.ready {
		for _, n := range ns {
			out[n] = true
		}
	}
	return out
}

// forget drops host's ready networks that were known before the engine
// listed exist and are not in it: someone removed them behind Zoe's back.
// (One made since may be missing from the list only because it is new.)
func (p *pool) forget(host string, before, exist map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.ready[host][:0]
	for _, n := range p.ready[host] {
		if exist[n] || !before[n] {
			kept = append(kept, n)
		}
	}
	p.ready[host] = kept
}

// short returns how many networks each of hosts lacks, and marks the
// pool as filling; nothing (and no mark) when a fill is already running
// or no host lacks any.
func (p *pool) short(hosts []string) map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.filling {
		return nil
	}
	need := map[string]int{}
	for _, h := range hosts {
		if n := p.size - len(p.ready[h]); n > 0 {
			need[h] = n
		}
	}
	if len(need) > 0 {
		p.filling = true
	}
	return need
}

func (p *pool) filled() {
	p.mu.Lock()
	p.filling = false
	p.mu.Unlock()
}

// poolName names a pooled network. It cannot be derived from an
// execution, which is why the execution records it.
func (m *Manager) poolName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("zoe-%s-pool-%s", m.cfg.Deployment, hex.EncodeToString(b))
}

// claimNetwork gives execution e, about to start its first services, all
// on host, the solo network when solo is true, and otherwise a ready
// network of that host; the choice is recorded as e's before it is
// returned. It returns false when the pool has none (or is off): e then
// gets a network of its own as before.
func (m *Manager) claimNetwork(ctx context.Context, e *store.Execution, host string, solo bool) (string, bool) {
	var name string
	if solo {
		name = m.soloNetwork()
	} else {
		var ok bool
		if name, ok = m.pool.take(host); !ok {
			return "", false
		}
	}
	// The record comes before the pending mark goes: the sweep reads the
	// pool before the store, so it always sees one of them.
	err := m.st.SetExecutionNetwork(ctx, e.ID, name)
	if !solo {
		m.pool.done(host, name, false)
	}
	if err != nil {
		// Whether it was recorded is unknown: the network is not put
		// back, and the sweep removes it once no active execution has it.
		m.log.Warn("recording the claimed network", "execution", e.ID, "network", name, "err", err)
		return "", false
	}
	e.Network = name
	return name, true
}

// ensureNetwork makes network on host unless it exists. The solo network
// is shared and isolated: it is labelled as such, not as one execution's,
// and made by one launch at a time, so that a burst of launches does not
// race to create it. Once it is known to exist on a host no launch asks
// the engine again: in a burst the engine answers an inspect in tens of
// milliseconds, and the launches would queue behind each other's. The
// sweep, which lists the networks anyway, and a failed start forget it.
func (m *Manager) ensureNetwork(ctx context.Context, host, network string, labels map[string]string) error {
	if network != m.soloNetwork() {
		return m.be.EnsureNetwork(ctx, host, network, labels)
	}
	m.soloMu.Lock()
	defer m.soloMu.Unlock()
	if m.solo[host] {
		return nil
	}
	if err := m.be.EnsureNetwork(ctx, host, network, map[string]string{backend.LabelIsolated: "true"}); err != nil {
		return err
	}
	m.solo[host] = true
	return nil
}

// forgetSolo makes the next launch on host check its solo network again.
func (m *Manager) forgetSolo(host string) {
	m.soloMu.Lock()
	delete(m.solo, host)
	m.soloMu.Unlock()
}

// fillPool tops the pool up on every online, enabled host, in the
// background and one network at a time. It does nothing while a start is
// in flight: network creation competes with container starts for the
// engine, and the point is to take it off the launches' path.
func (m *Manager) fillPool(ctx context.Context) {
	if m.pool.size == 0 {
		return
	}
	m.mu.Lock()
	starting := m.starting
	m.mu.Unlock()
	if starting > 0 {
		return
	}
	var hosts []string
	for _, h := range m.be.Status() {
		if h.Online && !h.Disabled {
			hosts = append(hosts, h.Name)
		}
	}
	need := m.pool.short(hosts)
	if len(need) == 0 {
		return
	}
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		defer m.pool.filled()
		for _, h := range slices.Sorted(maps.Keys(need)) {
			for range need[h] {
				name := m.poolName()
				m.pool.reserve(name)
				err := m.be.EnsureNetwork(ctx, h, name, map[string]string{backend.LabelPool: backend.PoolReady})
				m.pool.done(h, name, err == nil)
				if err != nil {
					if ctx.Err() == nil {
						m.log.Warn("making a ready network", "host", h, "err", err)
					}
					break
				}
			}
		}
	}()
}

// adoptPool fills the pool, at start, with the ready networks a previous
// process made and never gave to an execution. The others are left to
// the sweep, which removes them once nothing uses them.
func (m *Manager) adoptPool(ctx context.Context) {
	if m.pool.size == 0 {
		return
	}
	for _, h := range m.be.Status() {
		if !h.Online {
			continue
		}
		idle, err := m.unclaimed(ctx, h.Name)
		if err != nil {
			m.log.Warn("taking back ready networks", "host", h.Name, "err", err)
			continue
		}
		// Any beyond the pool's size are swept.
		idle = idle[:min(len(idle), m.pool.size)]
		for _, n := range idle {
			m.pool.done(h.Name, n, true)
		}
		if len(idle) > 0 {
			m.log.Info("kept ready networks of a previous run", "host", h.Name, "networks", len(idle))
		}
	}
}

// unclaimed lists, sorted, host's networks made for the pool that no
// execution has ever recorded and no container is attached to: the ones
// that can be handed out.
func (m *Manager) unclaimed(ctx context.Context, host string) ([]string, error) {
	ns, err := m.be.PoolNetworks(ctx, host)
	if err != nil {
		return nil, err
	}
	var idle []string
	for _, n := range ns {
		if n.Containers == 0 {
			idle = append(idle, n.Name)
		}
	}
	recorded, err := m.st.RecordedNetworks(ctx, idle)
	if err != nil {
		return nil, err
	}
	idle = slices.DeleteFunc(idle, func(n string) bool { return recorded[n] })
	sort.Strings(idle)
	return idle, nil
}
