package handlers

import (
	"net/http"
	"slices"
	"time"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

const (
	homeRunning = 50
	homeRecent  = 10
	// homeRecentScan is how many ended executions are ordered by end time
	// to find the last homeRecent.
	homeRecentScan = 200
)

// home is the start page: the viewer's own running executions with their
// Open buttons, the last ones that ended and their quota. Admins see only
// their own here too; everyone's are on /executions. Visitors go to
// sign-in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u == nil {
		redirect(w, r, "/login")
		return
	}
	ctx := r.Context()
	running, _, err := s.store.ListExecutions(ctx, store.ExecutionFilter{UserID: u.ID, Statuses: store.ActiveStatuses(), Limit: homeRunning})
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	var v views.HomeView
	for _, e := range running {
		he := views.HomeExecution{ExecutionRow: s.executionRow(e)}
		if e.Status == store.StatusRunning || e.Status == store.StatusStarting {
			svcs, err := s.store.ExecutionServices(ctx, e.ID)
			if err != nil {
				s.pageProblem(w, r, err)
				return
			}
			for _, sv := range svcs {
				if sv.Status == store.ServiceActive {
					he.Endpoints = append(he.Endpoints, s.endpoints(sv)...)
				}
			}
		}
		v.Running = append(v.Running, he)
	}
	v.Live = len(v.Running) > 0
	if isHTMX(r) {
		// The poll wants the running list only.
		s.render(w, r, http.StatusOK, views.HomeRunningPart(v), nil)
		return
	}
	// The store lists newest submitted first; an old execution that ended
	// just now belongs at the top, so read more and order by end.
	recent, _, err := s.store.ListExecutions(ctx, store.ExecutionFilter{UserID: u.ID, Statuses: []string{store.StatusTerminated, store.StatusError}, Limit: homeRecentScan})
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	slices.SortStableFunc(recent, func(a, b store.Execution) int { return endedAt(b).Compare(endedAt(a)) })
	for _, e := range recent[:min(len(recent), homeRecent)] {
		v.Recent = append(v.Recent, s.executionRow(e))
	}
	if v.Quota, err = s.quotaUsage(ctx, u); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	p := s.page(r, "Home")
	p.Nav = "home"
	s.render(w, r, http.StatusOK, views.HomePage(p, v), nil)
}

// executionRow is e as the lists show it.
func (s *Server) executionRow(e store.Execution) views.ExecutionRow {
	return views.ExecutionRow{
		ID: e.ID, Name: e.Name, ZApp: s.zappName(e.ZappID), Owner: e.Username, Status: e.Status,
		Submitted: e.SubmittedAt, Started: e.StartedAt, Ended: e.EndedAt, Active: store.IsActive(e.Status),
	}
}

func endedAt(e store.Execution) time.Time {
	if e.EndedAt != nil {
		return *e.EndedAt
	}
	return e.UpdatedAt
}
