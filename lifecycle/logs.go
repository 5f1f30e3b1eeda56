package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/store"
)

// ErrNoLog is returned when a service has no container and no kept log.
var ErrNoLog = errors.New("no log for this service")

func (m *Manager) logPath(execution int64, service string) string {
	return filepath.Join(m.cfg.LogDir, strconv.FormatInt(execution, 10), filepath.Base(service)+".log")
}

// stopAndKeepLogs stops a service gracefully (SIGTERM, then a kill after
// StopTimeout) and keeps its output before the container is removed.
func (m *Manager) stopAndKeepLogs(ctx context.Context, execution int64, s *store.Service) {
	if err := m.be.Stop(ctx, s.Host, s.BackendID, m.cfg.StopTimeout); err != nil && !errors.Is(err, backend.ErrNotFound) {
		m.log.Debug("stopping container", "execution", execution, "service", s.Name, "err", err)
	}
	m.keepLogs(ctx, execution, *s)
}

// keepLogs copies a container's whole output to the log directory, so it
// survives the container. A later container of the same service (an
// elastic instance placed again) appends to it.
func (m *Manager) keepLogs(ctx context.Context, execution int64, s store.Service) {
	if m.cfg.LogDir == "" || s.BackendID == "" {
		return
	}
	rc, err := m.be.Logs(ctx, s.Host, s.BackendID, -1, false, true)
	if err != nil {
		m.log.Debug("reading logs to keep", "execution", execution, "service", s.Name, "err", err)
		return
	}
	defer rc.Close()
	path := m.logPath(execution, s.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		m.log.Warn("keeping logs", "execution", execution, "service", s.Name, "err", err)
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.log.Warn("keeping logs", "execution", execution, "service", s.Name, "err", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, rc); err != nil {
		m.log.Warn("keeping logs", "execution", execution, "service", s.Name, "err", err)
	}
}

// ServiceLog returns the output of service name of execution e: from its
// container while it exists (tail lines, following when asked), from the
// kept log afterwards. tail < 0 means everything.
func (m *Manager) ServiceLog(ctx context.Context, e store.Execution, name string, tail int, follow bool) (io.ReadCloser, error) {
	services, err := m.st.ExecutionServices(ctx, e.ID)
	if err != nil {
		return nil, fmt.Errorf("service log: %w", err)
	}
	for _, s := range services {
		if s.Name != name {
			continue
		}
		if s.BackendID != "" && s.Host != "" {
			rc, err := m.be.Logs(ctx, s.Host, s.BackendID, tail, follow, true)
			if err == nil {
				return rc, nil
			}
			if !errors.Is(err, backend.ErrNotFound) {
				return nil, fmt.Errorf("service log: %w", err)
			}
		}
		if m.cfg.LogDir == "" {
			return nil, ErrNoLog
		}
		f, err := os.Open(m.logPath(e.ID, s.Name))
		if os.IsNotExist(err) {
			return nil, ErrNoLog
		}
		if err != nil {
			return nil, fmt.Errorf("service log: %w", err)
		}
		if tail < 0 {
			return f, nil
		}
		defer f.Close()
		return tailLines(f, tail)
	}
	return nil, store.ErrNotFound
}

// tailLines returns the last n lines of r.
func tailLines(r io.Reader, n int) (io.ReadCloser, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	i := end
	for count := 0; i > 0; i-- {
		if b[i-1] == '\n' {
			count++
			if count == n {
				break
			}
		}
	}
	return io.NopCloser(bytes.NewReader(b[i:])), nil
}
