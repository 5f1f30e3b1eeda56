package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/zoe-analytics/zoe/backend"
)

// Check asks every engine for its capacity, labels, images and running
// containers, in parallel, and returns the statuses in configuration order.
// An engine that does not answer within Options.CheckTimeout is offline with
// the reason in Err; it is back online at the first Check it answers.
func (b *Backend) Check(ctx context.Context) []backend.HostStatus {
	var wg sync.WaitGroup
	for _, h := range b.hosts {
		wg.Go(func() {
			st := b.checkHost(ctx, h)
			h.mu.Lock()
			was := h.status
			h.status = st
			h.mu.Unlock()
			switch {
			case st.Online && !was.Online:
				b.log.Info("docker host online", "host", h.cfg.Name, "memory", st.Memory, "millicores", st.MilliCores, "images", len(st.Images))
			case !st.Online && (was.Online || was.Err != st.Err):
				b.log.Warn("docker host offline", "host", h.cfg.Name, "err", st.Err)
			}
		})
	}
	wg.Wait()
	return b.Status()
}

// Status returns what the last Check found, without contacting the engines.
// Before the first Check every host is offline with Err "not checked yet".
func (b *Backend) Status() []backend.HostStatus {
	out := make([]backend.HostStatus, len(b.hosts))
	for i, h := range b.hosts {
		h.mu.Lock()
		out[i] = h.status
		h.mu.Unlock()
		out[i].Labels = slices.Clone(out[i].Labels)
		out[i].Images = slices.Clone(out[i].Images)
	}
	return out
}

func (b *Backend) checkHost(ctx context.Context, h *host) backend.HostStatus {
	ctx, cancel := context.WithTimeout(ctx, b.opts.CheckTimeout)
	defer cancel()
	st := backend.HostStatus{
		Name:            h.cfg.Name,
		ExternalAddress: h.cfg.ExternalAddress,
		Labels:          slices.Clone(h.cfg.Labels),
		CheckedAt:       time.Now(),
	}
	st.Disabled = slices.Contains(st.Labels, backend.LabelDisabled)
	if err := h.ready(ctx); err != nil {
		st.Err = err.Error()
		return st
	}
	info, err := h.cli.Info(ctx)
	if err != nil {
		st.Err = fmt.Sprintf("info: %v", classify(err))
		return st
	}
	imgs, err := h.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		st.Err = fmt.Sprintf("list images: %v", classify(err))
		return st
	}
	st.Online = true
	st.Memory = info.MemTotal
	st.MilliCores = int64(info.NCPU) * 1000
	st.Containers = info.ContainersRunning
	// The engine's own labels count too (the original meant to merge them
	// and dropped the result).
	for _, l := range info.Labels {
		if !slices.Contains(st.Labels, l) {
			st.Labels = append(st.Labels, l)
		}
	}
	st.Disabled = slices.Contains(st.Labels, backend.LabelDisabled)
	st.Images = imageNames(imgs)
	return st
}

// imageNames lists every tag, and the bare repository for :latest, since a
// ZApp may name an image either way.
func imageNames(imgs []image.Summary) []string {
	var out []string
	for _, im := range imgs {
		for _, t := range im.RepoTags {
			if t == "<none>:<none>" {
				continue
			}
			out = append(out, t)
			if repo, ok := strings.CutSuffix(t, ":latest"); ok {
				out = append(out, repo)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
