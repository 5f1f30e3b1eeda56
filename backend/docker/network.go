package docker

import (
	"context"
	"fmt"
	"maps"
	"sort"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/zoe-analytics/zoe/backend"
)

// EnsureNetwork creates a user-defined bridge network on host unless one of
// that name exists already, whoever made it: a shared network prepared by the
// administrator is used as it is. Containers on a user-defined network find
// each other by name through the engine's DNS.
func (b *Backend) EnsureNetwork(ctx context.Context, hostName, name string, labels map[string]string) error {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return err
	}
	isolated := labels[backend.LabelIsolated] == "true"
	if n, err := h.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return checkIsolated(n, isolated, hostName)
	} else if err := classify(err); !isNotFound(err) {
		// Several networks of one name ("ambiguous") are left by create
		// requests that an engine finished after their caller died: keep one.
		if derr := b.dedupe(ctx, h, name); derr == nil {
			if n, err := h.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
				return checkIsolated(n, isolated, hostName)
			}
		}
		return fmt.Errorf("inspect network %s on %s: %w", name, hostName, err)
	}
	opts := network.CreateOptions{Driver: "bridge", Labels: b.labels(labels)}
	if isolated {
		opts.Options = map[string]string{optionICC: "false"}
	}
	_, err = h.cli.NetworkCreate(ctx, name, opts)
	if err := classify(err); err != nil && !isConflict(err) {
		// A conflict is a concurrent EnsureNetwork that won the race.
		return fmt.Errorf("create network %s on %s: %w", name, hostName, err)
	}
	// The engine does not refuse a second network of the same name when
	// two creates race: make sure only one is left.
	return b.dedupe(ctx, h, name)
}

// optionICC is the bridge driver's switch for traffic between the
// containers of one network.
const optionICC = "com.docker.network.bridge.enable_icc"

// checkIsolated refuses an existing network asked for as isolated whose
// containers can reach each other: whoever made it under that name, Zoe
// must not put strangers' containers on it.
func checkIsolated(n network.Inspect, isolated bool, hostName string) error {
	if isolated && (n.Driver != "bridge" || n.Options[optionICC] != "false") {
		return fmt.Errorf("network %s on %s exists but lets its containers reach each other (driver %s, %s not false): remove it and Zoe makes it again", n.Name, hostName, n.Driver, optionICC)
	}
	return nil
}

// named lists this deployment's networks called exactly name, oldest first.
func (b *Backend) named(ctx context.Context, h *host, name string) ([]network.Summary, error) {
	f := b.filter()
	f.Add("name", name)
	ns, err := h.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks on %s: %w", h.cfg.Name, classify(err))
	}
	var out []network.Summary
	for _, n := range ns {
		if n.Name == name { // the engine's name filter matches substrings
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// dedupe removes all but the oldest of this deployment's networks named
// name.
func (b *Backend) dedupe(ctx context.Context, h *host, name string) error {
	ns, err := b.named(ctx, h, name)
	if err != nil {
		return err
	}
	for _, n := range ns[min(1, len(ns)):] {
		if err := classify(h.cli.NetworkRemove(ctx, n.ID)); err != nil && !isNotFound(err) {
			b.log.Warn("removing duplicate network", "host", h.cfg.Name, "network", name, "id", n.ID, "err", err)
		}
	}
	return nil
}

// RemoveNetwork removes a network this deployment created (every network
// of that name, should a race have made several). A network that is
// already gone is not an error; one that is not this deployment's (such as
// a shared network) is left alone; one that still has containers gives an
// error wrapping backend.ErrInUse, to be retried once they are removed.
func (b *Backend) RemoveNetwork(ctx context.Context, hostName, name string) error {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return err
	}
	ns, err := b.named(ctx, h, name)
	if err != nil {
		return err
	}
	if len(ns) == 0 {
		b.log.Debug("network not removed: none of this deployment has that name", "host", hostName, "network", name)
		return nil
	}
	var inUse error
	for _, n := range ns {
		err = classify(h.cli.NetworkRemove(ctx, n.ID))
		switch {
		case err == nil, isNotFound(err):
		case isForbidden(err), isConflict(err):
			inUse = fmt.Errorf("remove network %s on %s: %w: %w", name, hostName, backend.ErrInUse, err)
		default:
			return fmt.Errorf("remove network %s on %s: %w", name, hostName, err)
		}
	}
	return inUse
}

// Networks lists the names of this deployment's networks on host, so that
// recovery can remove the ones no execution owns any more.
func (b *Backend) Networks(ctx context.Context, hostName string) ([]string, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return nil, err
	}
	ns, err := h.cli.NetworkList(ctx, network.ListOptions{Filters: b.filter()})
	if err != nil {
		return nil, fmt.Errorf("list networks on %s: %w", hostName, classify(err))
	}
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out, nil
}

// PoolNetworks lists this deployment's networks on host that were made
// for the pool of ready networks (backend.LabelPool), with how many
// containers each has attached, so that a restarted Zoe can tell the ones
// it may hand out again.
func (b *Backend) PoolNetworks(ctx context.Context, hostName string) ([]backend.Network, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return nil, err
	}
	f := b.filter()
	f.Add("label", backend.LabelPool+"="+backend.PoolReady)
	ns, err := h.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks on %s: %w", hostName, classify(err))
	}
	out := make([]backend.Network, 0, len(ns))
	for _, n := range ns {
		// Listing leaves out the attached containers: only inspecting
		// tells them.
		in, err := h.cli.NetworkInspect(ctx, n.ID, network.InspectOptions{})
		if err := classify(err); isNotFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("inspect network %s on %s: %w", n.Name, hostName, err)
		}
		out = append(out, backend.Network{Name: in.Name, Labels: in.Labels, Containers: len(in.Containers)})
	}
	return out, nil
}

// labels are the caller's labels plus the two that make an object this
// deployment's, which the caller cannot override.
func (b *Backend) labels(extra map[string]string) map[string]string {
	l := make(map[string]string, len(extra)+2)
	maps.Copy(l, extra)
	l[backend.LabelManagedBy] = backend.ManagedBy
	l[backend.LabelDeployment] = b.deployment
	return l
}

func (b *Backend) filter() filters.Args {
	return filters.NewArgs(filters.Arg("label", backend.LabelDeployment+"="+b.deployment))
}
