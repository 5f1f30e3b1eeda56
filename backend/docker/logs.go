package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Logs streams a container's stdout and stderr, interleaved as the engine
// recorded them, as plain text. tail <= 0 means the whole log; follow keeps
// the stream open for new lines until ctx is done or the container stops,
// and then the reader returns io.EOF. The caller must Close the reader.
func (b *Backend) Logs(ctx context.Context, hostName, id string, tail int, follow, timestamps bool) (io.ReadCloser, error) {
	h, err := b.host(ctx, hostName)
	if err != nil {
		return nil, err
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Timestamps: timestamps, Tail: "all"}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	raw, err := h.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("logs of %s on %s: %w", shortID(id), hostName, classify(err))
	}
	pr, pw := io.Pipe()
	// The copy ends when the engine ends the stream, when ctx ends (the
	// client aborts the request) or when the caller closes the reader
	// (which closes raw under it).
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, raw)
		if ctx.Err() != nil {
			err = nil // the caller ended it: a normal end of stream
		}
		pw.CloseWithError(err)
	}()
	return &logReader{PipeReader: pr, raw: raw}, nil
}

type logReader struct {
	*io.PipeReader
	raw io.Closer
}

func (r *logReader) Close() error {
	err := r.raw.Close()
	r.PipeReader.Close()
	return err
}
