package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
)

// zappRequest is lifecycle request r to run shop ZApp z: z's ID, idle
// timeout and activity URLs go with it.
func zappRequest(z *shop.ZApp, r lifecycle.Request) lifecycle.Request {
	r.ZappID = z.ID
	r.IdleTimeout = z.IdleTimeout
	r.Activity = append(r.Activity, z.ActivityURLs...)
	return r
}

// stopOf is when running execution e, whose services are services, will be
// stopped; false when nothing will stop it.
func (s *Server) stopOf(ctx context.Context, e store.Execution, services []store.Service) (lifecycle.Stop, bool, error) {
	if e.Status != store.StatusRunning || s.lc == nil {
		return lifecycle.Stop{}, false, nil
	}
	return s.lc.StopsAt(ctx, e, s.lastUse(e.ID, services))
}

// extend resets the idle deadline of execution id on u's behalf: its owner
// or an admin. Anyone else gets ErrNotFound.
func (s *Server) extend(ctx context.Context, u *store.User, id int64) error {
	e, err := s.visibleExecution(ctx, u, id)
	if err != nil {
		return err
	}
	services, err := s.store.ExecutionServices(ctx, e.ID)
	if err != nil {
		return err
	}
	_, err = s.lc.Extend(ctx, e, s.lastUse(e.ID, services))
	return err
}

// apiStopJSON is when a running execution will be stopped, in the API.
type apiStopJSON struct {
	At                 apiTime `json:"at"`
	Reason             string  `json:"reason"`
	IdleTimeoutSeconds int64   `json:"idle_timeout_seconds"`
	RuntimeLimitSecs   int64   `json:"runtime_limit_seconds"`
	Extendable         bool    `json:"extendable"`
}

func apiStopOf(st lifecycle.Stop) *apiStopJSON {
	return &apiStopJSON{
		At: apiTime(st.At), Reason: st.Reason, Extendable: st.CanExtend(),
		IdleTimeoutSeconds: int64(st.Idle / time.Second), RuntimeLimitSecs: int64(st.Runtime / time.Second),
	}
}

// stopText says why an execution will stop, for people.
func stopText(st lifecycle.Stop) string {
	if st.Reason == lifecycle.StopIdle {
		return fmt.Sprintf("if unused: idle timeout of %s", st.Idle)
	}
	return fmt.Sprintf("run-time limit of %s", st.Runtime)
}

func (s *Server) executionExtend(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "id")
	if err == nil {
		err = s.extend(r.Context(), currentUser(r), id)
	}
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/executions/%d?done=extended", id))
}

// apiExecutionExtend answers with the execution as GET does, its new
// stops_at included.
func (s *Server) apiExecutionExtend(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "id")
	if err == nil {
		err = s.extend(r.Context(), currentUser(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiExecution(w, r)
}
