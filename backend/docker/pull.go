package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"

	"github.com/zoe-analytics/zoe/backend"
)

// EnsureImage makes sure ref is on host before a container is made from
// it. When the host lacks it, the image is pulled with Options.ImagePull set
// to backend.PullMissing (the default), within Options.PullTimeout, and
// progress, if not nil, is told how far the pull is as the engine reports
// it. pulled says whether a pull happened. A missing image that is not
// pulled, or whose pull fails, is an *backend.ImageMissingError naming the
// image and the host, and why the pull failed.
func (b *Backend) EnsureImage(ctx context.Context, hostName, ref string, progress func(backend.PullProgress)) (pulled bool, err error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return false, err
	}
	if _, err := h.cli.ImageInspect(ctx, ref); err == nil {
		return false, nil
	} else if err := classify(err); !isNotFound(err) {
		return false, fmt.Errorf("inspect image %s on %s: %w", ref, hostName, err)
	}
	if b.opts.ImagePull == backend.PullNever {
		return false, &backend.ImageMissingError{Image: ref, Host: hostName}
	}
	pctx, cancel := context.WithTimeout(ctx, b.opts.PullTimeout)
	defer cancel()
	if err := b.pull(pctx, h, ref, progress); err != nil {
		if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no pull may take longer than %s (backend-image-pull-timeout)", b.opts.PullTimeout)
		}
		return false, &backend.ImageMissingError{Image: ref, Host: hostName, PullErr: err}
	}
	return true, nil
}

func (b *Backend) pull(ctx context.Context, h *host, ref string, progress func(backend.PullProgress)) error {
	rc, err := h.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return classify(err)
	}
	defer rc.Close()
	t := newPullTracker(ref, h.cfg.Name)
	dec := json.NewDecoder(rc)
	for {
		var msg pullMessage
		if err := dec.Decode(&msg); err != nil {
			if !errors.Is(err, io.EOF) {
				return classify(err)
			}
			// The stream ended without an error: every layer is there.
			if progress != nil {
				progress(t.finish())
			}
			return nil
		}
		switch {
		case msg.Error != nil && msg.Error.Message != "":
			return errors.New(msg.Error.Message)
		case msg.ErrorMessage != "":
			return errors.New(msg.ErrorMessage)
		}
		if t.update(msg) && progress != nil {
			progress(t.progress())
		}
	}
}

// pullMessage is one line of the engine's pull stream (the fields of
// jsonmessage.JSONMessage that matter here, without its terminal
// dependencies).
type pullMessage struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Progress *struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	ErrorMessage string `json:"error"`
}

// pullTracker follows the layers of one pull through the engine's status
// messages.
type pullTracker struct {
	image, host string
	order       []string // layer IDs as announced
	layers      map[string]*layerState
}

type layerState struct {
	size, downloaded int64
	download         float64 // 0–1
	extract          float64 // 0–1
	done             bool
}

func newPullTracker(image, host string) *pullTracker {
	return &pullTracker{image: image, host: host, layers: map[string]*layerState{}}
}

// update applies one message and reports whether there is progress to
// report. Messages about the image as a whole ("Pulling from …", "Digest:
// …") name no layer, or name the tag, and are left out. The engine
// announces every layer ("Pulling fs layer", "Already exists", "Waiting")
// before it downloads any: a report before the first download would count
// only some layers, and the percentage would jump up and back.
func (t *pullTracker) update(msg pullMessage) bool {
	if msg.ID == "" {
		return false
	}
	var cur, total int64
	if msg.Progress != nil {
		cur, total = msg.Progress.Current, msg.Progress.Total
	}
	switch msg.Status {
	case "Pulling fs layer", "Waiting":
		t.layer(msg.ID)
		return false
	case "Already exists":
		t.layer(msg.ID).done = true
		return false
	case "Downloading":
		if l := t.layer(msg.ID); total > 0 {
			l.size, l.downloaded, l.download = total, cur, min(float64(cur)/float64(total), 1)
		}
	case "Verifying Checksum", "Download complete":
		l := t.layer(msg.ID)
		l.download, l.downloaded = 1, l.size
	case "Extracting":
		l := t.layer(msg.ID)
		l.download, l.downloaded = 1, l.size
		if total > 0 {
			l.extract = min(float64(cur)/float64(total), 1)
		}
	case "Pull complete":
		t.layer(msg.ID).done = true
	case "Retrying":
		t.layer(msg.ID)
	default:
		return false
	}
	return true
}

// layer returns layer id, announcing it on first sight.
func (t *pullTracker) layer(id string) *layerState {
	l, ok := t.layers[id]
	if !ok {
		l = &layerState{}
		t.layers[id] = l
		t.order = append(t.order, id)
	}
	return l
}

func (t *pullTracker) progress() backend.PullProgress {
	p := backend.PullProgress{Image: t.image, Host: t.host, Layers: len(t.order)}
	var sum float64
	for _, id := range t.order {
		l := t.layers[id]
		p.Size += l.size
		p.Downloaded += l.downloaded
		if l.done {
			p.LayersDone++
			sum++
			continue
		}
		// Downloading and extracting take about as long as each other.
		sum += (l.download + l.extract) / 2
	}
	if p.Layers > 0 {
		// 100 only once the engine says the image is there.
		p.Percent = min(int(sum*100/float64(p.Layers)), 99)
	}
	return p
}

// finish is the progress of a pull the engine completed.
func (t *pullTracker) finish() backend.PullProgress {
	for _, l := range t.layers {
		l.done, l.downloaded = true, l.size
	}
	p := t.progress()
	p.Percent = 100
	return p
}
