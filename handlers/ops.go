package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// healthz answers as long as the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

type checkResult struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// readyz runs every check in parallel, each bounded by a timeout, and
// answers 503 with the detail when any fails.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	results := make([]checkResult, len(s.checks))
	var wg sync.WaitGroup
	for i, c := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := c.Run(ctx)
			results[i] = checkResult{Name: c.Name, OK: err == nil, DurationMS: time.Since(start).Milliseconds()}
			if err != nil {
				results[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	status := http.StatusOK
	ready := true
	for _, res := range results {
		if !res.OK {
			status, ready = http.StatusServiceUnavailable, false
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]any{"ready": ready, "checks": results})
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.WriteTo(r.Context(), w)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
