package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

const (
	executionsPerPage = 25
	logTailLines      = 500
	failedLogLines    = 20
	// maxLogBytes bounds what a log page reads, whatever a container
	// wrote on one line.
	maxLogBytes = 1 << 20
)

// doneMessages are the notices a redirect after an action may ask for; the
// query names one, so no text travels in the URL.
var doneMessages = map[string]string{
	"terminated": "Termination requested: the containers are being stopped.",
	"deleted":    "The record was deleted.",
	"restarted":  "Started again with the same settings.",
	"extended":   "Extended: the idle timeout counts from now.",
}

func (s *Server) executionsPage(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	q := r.URL.Query()
	all := auth.UserCan(u, auth.OperateOthers)
	v := views.ExecutionsView{
		All: all, Status: q.Get("status"), ZApp: q.Get("zapp"), Message: doneMessages[q.Get("done")],
		Custom: auth.UserCan(u, auth.CustomizeResources),
	}
	if m := bulkMessage(q); m != "" {
		v.Message = m
	}
	f := store.ExecutionFilter{UserID: u.ID, ZappID: v.ZApp, Limit: executionsPerPage}
	if all {
		f.UserID = 0
		if id, err := strconv.ParseInt(q.Get("user"), 10, 64); err == nil && id > 0 {
			f.UserID = id
			v.User = q.Get("user")
		}
		users, err := s.store.ListUsers(r.Context())
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		for _, usr := range users {
			v.Users = append(v.Users, views.Option{Value: strconv.FormatInt(usr.ID, 10), Label: usr.Username})
		}
	}
	for _, st := range []string{store.StatusSubmitted, store.StatusQueued, store.StatusStarting, store.StatusRunning, store.StatusCleaningUp, store.StatusTerminated, store.StatusError} {
		v.Statuses = append(v.Statuses, views.Option{Value: st, Label: st})
	}
	switch v.Status {
	case "":
	case "active":
		f.Statuses = store.ActiveStatuses()
	default:
		f.Statuses = []string{v.Status}
	}
	v.Statuses = append([]views.Option{{Value: "active", Label: "active (any)"}}, v.Statuses...)
	role := u.Role
	if auth.UserCan(u, auth.FullShop) {
		role = "admin"
	}
	for _, z := range s.shop.List(role) {
		v.ZApps = append(v.ZApps, views.Option{Value: z.ID, Label: z.Name})
	}
	v.Page = 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		v.Page = n
	}
	f.Offset = (v.Page - 1) * executionsPerPage
	rows, total, err := s.store.ListExecutions(r.Context(), f)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	v.Total = total
	v.Pages = max((total+executionsPerPage-1)/executionsPerPage, 1)
	for _, e := range rows {
		v.Rows = append(v.Rows, s.executionRow(e))
	}
	pageURL := func(n int) string {
		qq := url.Values{}
		for _, k := range []string{"user", "status", "zapp"} {
			if q.Get(k) != "" {
				qq.Set(k, q.Get(k))
			}
		}
		qq.Set("page", strconv.Itoa(n))
		return "/executions?" + qq.Encode()
	}
	if v.Page > 1 {
		v.PrevURL = pageURL(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextURL = pageURL(v.Page + 1)
	}
	p := s.page(r, "Executions")
	p.Nav = "executions"
	s.render(w, r, http.StatusOK, views.ExecutionsPage(p, v), nil)
}

// zappName is the shop's name for a ZApp ID, the ID of a ZApp no longer in
// the shop, or a word for descriptions that came from elsewhere.
func (s *Server) zappName(id string) string {
	if id == "" {
		return "own description"
	}
	if z, ok := s.shop.Get(id); ok {
		return z.Name
	}
	return id
}

// pathExecution is the execution named by the URL, if u may see it.
func (s *Server) pathExecution(r *http.Request) (store.Execution, error) {
	id, err := apiIDParam(r, "id")
	if err != nil {
		return store.Execution{}, err
	}
	return s.visibleExecution(r.Context(), currentUser(r), id)
}

func (s *Server) executionPage(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	snap, err := s.pathSnapshot(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	e, st := snap.e, s.liveStatus(r, snap)
	events, err := s.store.Events(r.Context(), e.ID)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	v := views.ExecutionView{
		ID: e.ID, Name: e.Name, ZApp: s.zappName(e.ZappID), Status: st,
		CanTerminate: store.IsActive(e.Status),
		CanRestart:   store.IsEnded(e.Status) && e.UserID == u.ID && auth.UserCan(u, auth.CustomizeResources),
		CanDelete:    store.IsEnded(e.Status) && (e.UserID == u.ID || auth.UserCan(u, auth.DeleteExecutions)),
		Message:      doneMessages[r.URL.Query().Get("done")],
	}
	if e.ZappID != "" {
		if _, err := s.visibleZApp(u, e.ZappID); err == nil {
			v.ZAppURL = "/shop/" + e.ZappID
		}
	}
	if e.UserID != u.ID {
		v.Owner = e.Username
	}
	for _, ev := range events {
		v.Events = append(v.Events, views.EventRow{At: ev.At, Kind: ev.Kind, Message: ev.Message})
	}
	p := s.page(r, e.Name)
	p.Nav = "executions"
	s.render(w, r, http.StatusOK, views.ExecutionPage(p, v), views.ExecutionStatusPart(st))
}

// executionStatus is the live part of the execution page.
func (s *Server) executionStatus(w http.ResponseWriter, r *http.Request) {
	snap, err := s.pathSnapshot(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if !isHTMX(r) {
		// Without HTMX the fragment alone would be a bare page: show the
		// whole execution page instead.
		redirect(w, r, fmt.Sprintf("/executions/%d", snap.e.ID))
		return
	}
	s.render(w, r, http.StatusOK, views.ExecutionStatusPart(s.liveStatus(r, snap)), nil)
}

// liveStatus is the live part of the execution page for the user of r:
// the status, with the Extend form when it applies.
func (s *Server) liveStatus(r *http.Request, snap executionSnapshot) views.ExecutionStatus {
	st := s.executionStatusView(r.Context(), snap)
	if st.CanExtend && s.sessions != nil {
		st.CSRF = s.sessions.CSRFToken(r)
	}
	return st
}

func (s *Server) executionStatusView(ctx context.Context, snap executionSnapshot) views.ExecutionStatus {
	e, svcs := snap.e, snap.svcs
	st := views.ExecutionStatus{
		ID: e.ID, Status: e.Status, Active: store.IsActive(e.Status), Error: e.ErrorMessage,
		Submitted: e.SubmittedAt, Started: e.StartedAt, Ended: e.EndedAt,
		Reservation: views.Bytes(e.Memory) + " and " + views.Cores(e.MilliCores),
	}
	if e.Status == store.StatusTerminated && e.ErrorMessage != "" {
		// A termination's reason is not an error.
		st.Error = ""
		st.Phase = e.ErrorMessage
	}
	if stop, ok := s.snapshotStop(snap); ok {
		st.StopsAt, st.StopReason, st.CanExtend = &stop.At, stopText(stop), stop.CanExtend()
	}
	if (e.Status == store.StatusQueued || e.Status == store.StatusSubmitted) && s.lc != nil {
		if w, ok := s.lc.Wait(e.ID); ok {
			qi := &views.QueueInfo{Position: w.Position, Reason: w.Reason}
			for _, h := range w.Hosts {
				qi.Hosts = append(qi.Hosts, h.String())
			}
			st.Queue = qi
		}
	}
	if st.Phase == "" {
		st.Phase = phase(e.Status, svcs)
	}
	for _, sv := range svcs {
		row := views.ServiceRow{
			Name: sv.Name, Essential: sv.Essential, Status: sv.Status, Backend: sv.BackendStatus, Host: sv.Host,
			Memory: views.Bytes(sv.Memory), Cores: views.Cores(sv.MilliCores), Restarts: sv.RestartCount,
			Error: sv.ErrorMessage, ExitCode: sv.ExitCode,
		}
		if sv.BackendID != "" {
			row.LogsURL = fmt.Sprintf("/executions/%d/logs/%s", e.ID, url.PathEscape(sv.Name))
		}
		if sv.Status == store.ServiceActive {
			row.Endpoints = s.endpoints(sv)
		}
		st.Services = append(st.Services, row)
	}
	if e.Status == store.StatusStarting && s.lc != nil {
		showPhases(&st, s.lc.Phases(e.ID))
	}
	if e.Status == store.StatusError {
		st.FailedLog = s.failedLog(ctx, e.ID, svcs)
	}
	return st
}

// showPhases puts what the lifecycle is doing to start each service in
// its row, and the pulls in the phase line.
func showPhases(st *views.ExecutionStatus, phases []lifecycle.Phase) {
	rows := map[string]*views.ServiceRow{}
	for i := range st.Services {
		rows[st.Services[i].Name] = &st.Services[i]
	}
	var pulls []string
	for _, p := range phases {
		row := rows[p.Service]
		if row == nil {
			continue
		}
		ph := &views.ServicePhase{}
		switch p.Step {
		case lifecycle.StepImage:
			ph.Text = fmt.Sprintf("Looking for image %s on %s.", p.Image, p.Host)
		case lifecycle.StepPulling:
			ph.Text = fmt.Sprintf("Pulling image %s onto %s.", p.Image, p.Host)
			ph.Progress, ph.Percent = true, p.Pull.Percent
			ph.Detail = fmt.Sprintf("%d of %d layers", p.Pull.LayersDone, p.Pull.Layers)
			if p.Pull.Size > 0 {
				ph.Detail += fmt.Sprintf(", %s of %s", views.Bytes(p.Pull.Downloaded), views.Bytes(p.Pull.Size))
			}
			pulls = append(pulls, fmt.Sprintf("%s %d%%", p.Service, p.Pull.Percent))
		case lifecycle.StepStarting:
			ph.Text = fmt.Sprintf("Creating its container on %s.", p.Host)
		default:
			continue
		}
		row.Phase = ph
	}
	if len(pulls) > 0 {
		st.Phase += " Pulling images: " + strings.Join(pulls, ", ") + "."
	}
}

// phase says in words where a starting execution is.
func phase(status string, svcs []store.Service) string {
	switch status {
	case store.StatusSubmitted:
		return "Submitted: the scheduler looks at it next."
	case store.StatusQueued:
		return "Queued: it starts as soon as there is room."
	case store.StatusStarting:
		started := 0
		for _, sv := range svcs {
			if sv.BackendStatus == store.BackendStarted || sv.Status == store.ServiceActive {
				started++
			}
		}
		return fmt.Sprintf("Starting: %d of %d containers running.", started, len(svcs))
	case store.StatusRunning:
		return "Running."
	case store.StatusCleaningUp:
		return "Stopping its containers."
	case store.StatusError:
		return "Failed."
	}
	return ""
}

// endpoints lists a service's published ports that answer: web
// interfaces as links through Zoe's proxy, other ports as host:port.
// A port that does not answer yet is listed without a link.
func (s *Server) endpoints(sv store.Service) []views.Endpoint {
	var out []views.Endpoint
	for _, p := range sv.Ports {
		target, web := s.endpointURL(sv, p)
		if target == "" {
			continue
		}
		ep := views.Endpoint{Name: p.Name}
		switch {
		case !s.endpointReady(sv, p):
			ep.Waiting = true
		case web:
			ep.URL = target
		default:
			ep.Address = target
		}
		out = append(out, ep)
	}
	return out
}

// failedLog is the end of the output of the service that most likely made
// the execution fail.
func (s *Server) failedLog(ctx context.Context, execID int64, svcs []store.Service) *views.LogTail {
	if s.logs == nil {
		return nil
	}
	var pick *store.Service
	for i := range svcs {
		sv := &svcs[i]
		if sv.BackendID == "" {
			continue
		}
		failed := sv.Status == store.ServiceError || sv.ErrorMessage != "" || (sv.ExitCode != nil && *sv.ExitCode != 0)
		if failed || pick == nil {
			pick = sv
		}
		if failed {
			break
		}
	}
	if pick == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	text, err := s.readLogs(ctx, *pick, failedLogLines)
	if err != nil || text == "" {
		return nil
	}
	return &views.LogTail{ExecutionID: execID, Service: pick.Name, Text: text}
}

func (s *Server) readLogs(ctx context.Context, sv store.Service, lines int) (string, error) {
	// The lifecycle reads the container while it exists and the kept log
	// after it was removed, so a failed service's last lines stay visible.
	rc, err := s.lc.ServiceLog(ctx, store.Execution{ID: sv.ExecutionID}, sv.Name, lines, false)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var b strings.Builder
	sc := bufio.NewScanner(io.LimitReader(rc, maxLogBytes))
	sc.Buffer(make([]byte, 64*1024), maxLogBytes)
	for sc.Scan() {
		b.WriteString(strings.ToValidUTF8(sc.Text(), "\uFFFD"))
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return b.String(), err
	}
	return b.String(), nil
}

func (s *Server) serviceLogsPage(w http.ResponseWriter, r *http.Request) {
	e, err := s.pathExecution(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	svcs, err := s.store.ExecutionServices(r.Context(), e.ID)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	name := chi.URLParam(r, "service")
	var sv *store.Service
	for i := range svcs {
		if svcs[i].Name == name {
			sv = &svcs[i]
		}
	}
	if sv == nil {
		s.pageProblem(w, r, ErrNotFound)
		return
	}
	t := views.LogTail{
		ExecutionID: e.ID, Service: sv.Name,
		URL:  fmt.Sprintf("/executions/%d/logs/%s", e.ID, url.PathEscape(sv.Name)),
		Live: store.IsActive(e.Status) && sv.Status != store.ServiceInactive,
	}
	switch {
	case sv.BackendID == "":
		t.Text = "No container yet: the output appears here once it starts."
	case s.logs == nil:
		t.Error = "Logs are not available in this deployment."
	default:
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		t.Text, err = s.readLogs(ctx, *sv, logTailLines)
		cancel()
		if err != nil {
			s.log.Warn("service logs", "execution", e.ID, "service", sv.Name, "err", err)
			t.Error = "The container's output cannot be read right now (its host may be unreachable, or the container removed)."
		}
	}
	p := s.page(r, "Output of "+sv.Name)
	p.Nav = "executions"
	s.render(w, r, http.StatusOK, views.LogsPage(p, views.LogsView{ExecutionID: e.ID, ExecutionName: e.Name, Tail: t}), views.LogTailPart(t))
}

func (s *Server) executionTerminate(w http.ResponseWriter, r *http.Request) {
	e, err := s.pathExecution(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if err := s.terminate(r.Context(), currentUser(r), e.ID, "portal"); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/executions/%d?done=terminated", e.ID))
}

func (s *Server) executionDelete(w http.ResponseWriter, r *http.Request) {
	e, err := s.pathExecution(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if err := s.deleteExecution(r.Context(), currentUser(r), e.ID); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, "/executions?done=deleted")
}

func (s *Server) executionRestart(w http.ResponseWriter, r *http.Request) {
	e, err := s.pathExecution(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	id, err := s.restart(r.Context(), currentUser(r), e.ID)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/executions/%d?done=restarted", id))
}

// maxDescription bounds an uploaded ZApp description.
const maxDescription = 1 << 20

// executionCustom starts a description the user uploaded (the "file"
// field) or pasted (the "description" field).
func (s *Server) executionCustom(w http.ResponseWriter, r *http.Request) {
	raw := []byte(r.PostFormValue("description"))
	if f, _, err := r.FormFile("file"); err == nil {
		raw, err = io.ReadAll(io.LimitReader(f, maxDescription+1))
		f.Close()
		if err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	if len(raw) == 0 {
		s.pageError(w, r, http.StatusUnprocessableEntity, "Choose a ZApp description (a JSON file) to start.")
		return
	}
	if len(raw) > maxDescription {
		s.pageError(w, r, http.StatusRequestEntityTooLarge, "The description is larger than 1 MiB.")
		return
	}
	id, err := s.launchDescription(r.Context(), currentUser(r), strings.TrimSpace(r.PostFormValue("name")), raw)
	if err != nil {
		p := problemOf(err)
		if p.Status == http.StatusInternalServerError {
			s.pageProblem(w, r, err)
			return
		}
		s.pageError(w, r, p.Status, "The description was refused: "+p.Message)
		return
	}
	redirect(w, r, fmt.Sprintf("/executions/%d", id))
}

// maxBulk bounds one bulk termination.
const maxBulk = 500

// executionsTerminate terminates the executions an admin selected in the
// list (the "id" fields). Without confirm=yes it only shows what would be
// terminated and asks, so that it needs no script. Each execution goes
// through the same terminate operation as one at a time.
func (s *Server) executionsTerminate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	var ids []int64
	seen := map[int64]bool{}
	missing := 0
	for _, raw := range r.PostForm["id"] {
		id, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil || id <= 0:
			missing++
		case !seen[id]:
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids)+missing == 0 {
		s.pageError(w, r, http.StatusUnprocessableEntity, "Select the executions to terminate first.")
		return
	}
	if len(ids)+missing > maxBulk {
		s.pageError(w, r, http.StatusUnprocessableEntity, "Select at most "+strconv.Itoa(maxBulk)+" executions at once.")
		return
	}
	u := currentUser(r)
	ctx := r.Context()
	if r.PostFormValue("confirm") != "yes" {
		v := views.BulkTerminateView{Missing: missing}
		for _, id := range ids {
			e, err := s.visibleExecution(ctx, u, id)
			switch {
			case errors.Is(err, ErrNotFound):
				v.Missing++
			case err != nil:
				s.pageProblem(w, r, err)
				return
			case !store.IsActive(e.Status):
				v.Ended++
			default:
				v.Rows = append(v.Rows, s.executionRow(e))
			}
		}
		p := s.page(r, "Terminate executions")
		p.Nav = "executions"
		s.render(w, r, http.StatusOK, views.ExecutionsTerminatePage(p, v), nil)
		return
	}
	var n bulkResult
	n.missing = missing
	for _, id := range ids {
		err := s.terminate(ctx, u, id, "portal")
		switch {
		case err == nil:
			n.terminated++
		case errors.Is(err, lifecycle.ErrNotActive):
			n.inactive++
		case errors.Is(err, ErrNotFound):
			n.missing++
		default:
			s.log.Error("bulk terminate", "execution", id, "err", err)
			n.failed++
		}
	}
	redirect(w, r, "/executions?"+n.query())
}

// bulkResult counts the outcomes of a bulk termination. The redirect
// carries the counts, never text, and the list page words them.
type bulkResult struct {
	terminated, inactive, missing, failed int
}

var bulkKeys = []string{"terminated", "inactive", "missing", "failed"}

func (b bulkResult) query() string {
	q := url.Values{}
	for i, n := range []int{b.terminated, b.inactive, b.missing, b.failed} {
		q.Set(bulkKeys[i], strconv.Itoa(n))
	}
	return q.Encode()
}

// bulkMessage words the counts of a bulk termination: "3 terminated, 1
// was not active".
func bulkMessage(q url.Values) string {
	if !q.Has("terminated") {
		return ""
	}
	var n [4]int
	for i, k := range bulkKeys {
		v, err := strconv.Atoi(q.Get(k))
		if err != nil || v < 0 || v > maxBulk {
			return ""
		}
		n[i] = v
	}
	parts := []string{strconv.Itoa(n[0]) + " terminated"}
	if n[1] > 0 {
		parts = append(parts, wasWere(n[1])+" not active")
	}
	if n[2] > 0 {
		parts = append(parts, wasWere(n[2])+" not found")
	}
	if n[3] > 0 {
		parts = append(parts, strconv.Itoa(n[3])+" could not be terminated (see the server log)")
	}
	return strings.Join(parts, ", ") + "."
}

func wasWere(n int) string {
	if n == 1 {
		return "1 was"
	}
	return strconv.Itoa(n) + " were"
}
