package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// apiExecutionJSON is an execution as the API shows it. Services and
// history are filled in only by GET /executions/{id}.
type apiExecutionJSON struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Owner       string            `json:"owner"`
	ZApp        string            `json:"zapp"`
	Status      string            `json:"status"`
	Error       string            `json:"error"`
	SubmittedAt apiTime           `json:"submitted_at"`
	StartedAt   *apiTime          `json:"started_at"`
	EndedAt     *apiTime          `json:"ended_at"`
	Size        float64           `json:"size"`
	Memory      int64             `json:"memory"`
	MemoryHuman string            `json:"memory_human"`
	Cores       float64           `json:"cores"`
	Services    []apiServiceJSON  `json:"services,omitempty"`
	Queue       *apiQueueJSON     `json:"queue,omitempty"`
	StopsAt     *apiStopJSON      `json:"stops_at,omitempty"`
	History     []apiEventJSON    `json:"history,omitempty"`
	Links       map[string]string `json:"links"`
}

type apiServiceJSON struct {
	Name          string            `json:"name"`
	Group         string            `json:"group"`
	Essential     bool              `json:"essential"`
	Status        string            `json:"status"`
	BackendStatus string            `json:"backend_status"`
	Host          string            `json:"host"`
	DNSName       string            `json:"dns_name"`
	ExitCode      *int              `json:"exit_code"`
	RestartCount  int               `json:"restart_count"`
	Error         string            `json:"error"`
	Memory        int64             `json:"memory"`
	MemoryHuman   string            `json:"memory_human"`
	Cores         float64           `json:"cores"`
	Endpoints     []apiEndpointJSON `json:"endpoints"`
}

type apiEndpointJSON struct {
	Name      string `json:"name"`
	Port      int    `json:"port"`
	Protocol  string `json:"protocol"`
	URL       string `json:"url"`
	ProxyPath string `json:"proxy_path"`
}

type apiQueueJSON struct {
	Position int             `json:"position"`
	Reason   string          `json:"reason"`
	Hosts    []apiHostReason `json:"hosts"`
}

type apiHostReason struct {
	Host   string `json:"host"`
	Reason string `json:"reason"`
}

type apiEventJSON struct {
	At      apiTime `json:"at"`
	Kind    string  `json:"kind"`
	Message string  `json:"message"`
}

// apiExecutionOf is the summary of e, with its queue position when it
// waits.
func (s *Server) apiExecutionOf(e store.Execution) apiExecutionJSON {
	path := fmt.Sprintf("/api/v1/executions/%d", e.ID)
	j := apiExecutionJSON{
		ID: e.ID, Name: e.Name, Owner: e.Username, ZApp: e.ZappID, Status: e.Status, Error: e.ErrorMessage,
		SubmittedAt: apiTime(e.SubmittedAt), StartedAt: apiTimePtr(e.StartedAt), EndedAt: apiTimePtr(e.EndedAt),
		Size: e.Size, Memory: e.Memory, MemoryHuman: zapp.Bytes(e.Memory).String(), Cores: apiCoresNumber(e.MilliCores),
		Links: map[string]string{"self": path},
	}
	if store.IsActive(e.Status) {
		j.Links["terminate"] = path + "/terminate"
	} else {
		j.Links["delete"] = path
	}
	if e.Status == store.StatusSubmitted || e.Status == store.StatusQueued {
		if w, ok := s.lc.Wait(e.ID); ok {
			j.Queue = apiQueueOf(w.Position, w.Reason, w.Hosts)
		}
	}
	return j
}

func apiQueueOf(position int, reason string, hosts []scheduler.HostReason) *apiQueueJSON {
	q := &apiQueueJSON{Position: position, Reason: reason, Hosts: []apiHostReason{}}
	for _, h := range hosts {
		q.Hosts = append(q.Hosts, apiHostReason{Host: h.Host, Reason: h.Reason})
	}
	return q
}

// apiExecutionDetail is apiExecutionOf with services, endpoints and
// history.
func (s *Server) apiExecutionDetail(ctx context.Context, e store.Execution) (apiExecutionJSON, error) {
	j := s.apiExecutionOf(e)
	services, err := s.store.ExecutionServices(ctx, e.ID)
	if err != nil {
		return j, err
	}
	events, err := s.store.Events(ctx, e.ID)
	if err != nil {
		return j, err
	}
	var d zapp.Description
	haveDescription := d.UnmarshalJSON(e.Description) == nil
	j.Services = make([]apiServiceJSON, 0, len(services))
	for _, sv := range services {
		js := apiServiceJSON{
			Name: sv.Name, Group: sv.Group, Essential: sv.Essential, Status: sv.Status, BackendStatus: sv.BackendStatus,
			Host: sv.Host, DNSName: sv.DNSName, ExitCode: sv.ExitCode, RestartCount: sv.RestartCount, Error: sv.ErrorMessage,
			Memory: sv.Memory, MemoryHuman: zapp.Bytes(sv.Memory).String(), Cores: apiCoresNumber(sv.MilliCores),
			Endpoints: []apiEndpointJSON{},
		}
		var vars zapp.Vars
		if haveDescription {
			vars = d.Vars(sv.Name, zapp.Execution{ID: e.ID, Name: e.Name, User: e.Username, Deployment: s.deployment})
		}
		for _, p := range sv.Ports {
			js.Endpoints = append(js.Endpoints, s.apiEndpointOf(e.ID, sv, p, vars))
		}
		j.Services = append(j.Services, js)
	}
	stop, ok, err := s.stopOf(ctx, e, services)
	if err != nil {
		return j, err
	}
	if ok {
		j.StopsAt = apiStopOf(stop)
		if stop.CanExtend() {
			j.Links["extend"] = j.Links["self"] + "/extend"
		}
	}
	j.History = make([]apiEventJSON, 0, len(events))
	for _, ev := range events {
		j.History = append(j.History, apiEventJSON{At: apiTime(ev.At), Kind: ev.Kind, Message: ev.Message})
	}
	return j, nil
}

// apiEndpointOf says where a port is reached: its URL once the engine has
// published it, and the portal's proxy path for proxied ports.
func (s *Server) apiEndpointOf(execution int64, sv store.Service, p store.Port, vars zapp.Vars) apiEndpointJSON {
	ep := apiEndpointJSON{Name: p.Name, Port: p.Number, Protocol: p.Protocol}
	if p.Proxy {
		ep.ProxyPath = lifecycle.ProxyPath("/proxy", execution, sv.Name, p.Number)
	}
	if p.ExternalIP == "" || p.ExternalPort == 0 || vars == nil || p.URLTemplate == "" {
		return ep
	}
	v := make(zapp.Vars, len(vars)+2)
	for k, val := range vars {
		v[k] = val
	}
	v[zapp.VarIPPort] = p.ExternalIP + ":" + strconv.Itoa(p.ExternalPort)
	v[zapp.VarProxyPath] = ep.ProxyPath
	if u, err := zapp.Expand(p.URLTemplate, v); err == nil {
		ep.URL = u
	}
	return ep
}

// apiExecutionRequest is the body of POST /executions: a ZApp of the shop
// with parameters and resources, or a description of one's own.
type apiExecutionRequest struct {
	Name        string                         `json:"name"`
	ZApp        string                         `json:"zapp"`
	Parameters  map[string]json.RawMessage     `json:"parameters"`
	Resources   map[string]apiResourcesRequest `json:"resources"`
	Description json.RawMessage                `json:"description"`
}

type apiResourcesRequest struct {
	Memory json.RawMessage `json:"memory"`
	Cores  json.RawMessage `json:"cores"`
}

// launchRequest checks the shop form of the body and converts it;
// parameters may be JSON strings or numbers.
func (req apiExecutionRequest) launchRequest() (LaunchRequest, error) {
	lr := LaunchRequest{Name: req.Name, ZApp: req.ZApp}
	var errs zapp.Errors
	if len(req.Parameters) > 0 {
		lr.Params = make(map[string]string, len(req.Parameters))
		for _, k := range sortedKeys(req.Parameters) {
			raw := req.Parameters[k]
			var str string
			var num json.Number
			switch {
			case json.Unmarshal(raw, &str) == nil:
				lr.Params[k] = str
			case json.Unmarshal(raw, &num) == nil:
				lr.Params[k] = num.String()
			default:
				errs = append(errs, zapp.FieldError{Path: "parameters." + k, Message: "must be a string or a number"})
			}
		}
	}
	if len(req.Resources) > 0 {
		lr.Resources = make(map[string]shop.ServiceResources, len(req.Resources))
		for _, name := range sortedKeys(req.Resources) {
			res := req.Resources[name]
			lr.Resources[name] = shop.ServiceResources{
				Memory:     zapp.Bytes(apiSize(res.Memory, "resources."+name+".memory", &errs)),
				MilliCores: zapp.MilliCores(apiCores(res.Cores, "resources."+name+".cores", &errs)),
			}
		}
	}
	if len(errs) > 0 {
		return lr, errs
	}
	return lr, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) apiExecutionCreate(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	var req apiExecutionRequest
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	hasDescription := len(req.Description) > 0 && string(req.Description) != "null"
	var id int64
	var err error
	switch {
	case hasDescription && req.ZApp != "":
		err = zapp.Errors{{Path: "description", Message: `give either "zapp" or "description", not both`}}
	case hasDescription:
		if len(req.Parameters) > 0 || len(req.Resources) > 0 {
			err = zapp.Errors{{Path: "parameters", Message: `parameters and resources apply to "zapp" only: write them in the description`}}
			break
		}
		id, err = s.launchDescription(r.Context(), u, req.Name, req.Description)
	case req.ZApp != "":
		var lr LaunchRequest
		if lr, err = req.launchRequest(); err == nil {
			id, err = s.launch(r.Context(), u, lr)
		}
	default:
		err = zapp.Errors{{Path: "zapp", Message: `give "zapp" (a ZApp of the shop) or "description" (a ZApp description)`}}
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiExecutionCreated(w, r, id)
}

// apiExecutionCreated answers 201 with the new execution and its URL.
func (s *Server) apiExecutionCreated(w http.ResponseWriter, r *http.Request, id int64) {
	e, err := s.store.Execution(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	j, err := s.apiExecutionDetail(r.Context(), e)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", j.Links["self"])
	writeJSON(w, http.StatusCreated, j)
}

// apiExecutionList is a page of GET /executions.
type apiExecutionList struct {
	Executions []apiExecutionJSON `json:"executions"`
	Total      int                `json:"total"`
	Limit      int                `json:"limit"`
	Offset     int                `json:"offset"`
	Next       string             `json:"next,omitempty"`
}

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

var apiStatuses = []string{
	store.StatusSubmitted, store.StatusQueued, store.StatusStarting, store.StatusRunning,
	store.StatusCleaningUp, store.StatusTerminated, store.StatusError,
}

// apiExecutionFilter reads the query of GET /executions. Users who cannot
// operate on others' executions see only their own whatever they ask.
func (s *Server) apiExecutionFilter(ctx context.Context, u *store.User, q url.Values) (store.ExecutionFilter, error) {
	f := store.ExecutionFilter{Limit: apiDefaultLimit, ZappID: q.Get("zapp")}
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if st == "" {
				continue
			}
			if st == "active" {
				f.Statuses = append(f.Statuses, store.ActiveStatuses()...)
				continue
			}
			if !slices.Contains(apiStatuses, st) {
				return f, &apiBadRequest{field: "status", message: fmt.Sprintf("unknown status %q: use active or one of %s", st, strings.Join(apiStatuses, ", "))}
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if name := q.Get("user"); name != "" {
		switch {
		case name == u.Username:
			f.UserID = u.ID
		case !auth.UserCan(u, auth.OperateOthers):
			return f, fmt.Errorf("%w: only admins can list other users' executions", ErrForbidden)
		default:
			owner, err := s.store.UserByName(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				return f, &apiBadRequest{field: "user", message: fmt.Sprintf("no user %q", name)}
			}
			if err != nil {
				return f, err
			}
			f.UserID = owner.ID
		}
	}
	if !auth.UserCan(u, auth.OperateOthers) {
		f.UserID = u.ID
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, &apiBadRequest{field: "since", message: "must be an RFC 3339 time such as 2024-05-01T00:00:00Z"}
		}
		f.Since = t
	}
	var err error
	if f.Limit, err = apiIntParam(q, "limit", apiDefaultLimit, 1, apiMaxLimit); err != nil {
		return f, err
	}
	if f.Offset, err = apiIntParam(q, "offset", 0, 0, 1<<31-1); err != nil {
		return f, err
	}
	return f, nil
}

func apiIntParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &apiBadRequest{field: name, message: fmt.Sprintf("must be a whole number from %d to %d", lo, hi)}
	}
	return n, nil
}

func (s *Server) apiExecutions(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	q := r.URL.Query()
	f, err := s.apiExecutionFilter(r.Context(), u, q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	list, total, err := s.store.ListExecutions(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page := apiExecutionList{Executions: make([]apiExecutionJSON, 0, len(list)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, e := range list {
		page.Executions = append(page.Executions, s.apiExecutionOf(e))
	}
	if f.Offset+len(list) < total {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("limit", strconv.Itoa(f.Limit))
		next.Set("offset", strconv.Itoa(f.Offset+len(list)))
		page.Next = "/api/v1/executions?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

// apiVisible is the execution named by the {id} parameter if u may see
// it.
func (s *Server) apiVisible(r *http.Request) (store.Execution, error) {
	id, err := apiIDParam(r, "id")
	if err != nil {
		return store.Execution{}, err
	}
	return s.visibleExecution(r.Context(), currentUser(r), id)
}

func (s *Server) apiExecution(w http.ResponseWriter, r *http.Request) {
	e, err := s.apiVisible(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	j, err := s.apiExecutionDetail(r.Context(), e)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) apiExecutionTerminate(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "id")
	if err == nil {
		err = s.terminate(r.Context(), currentUser(r), id, "API")
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	e, err := s.store.Execution(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	// 202: the containers are removed by the lifecycle loop, after this
	// answer; the status says when it is done.
	writeJSON(w, http.StatusAccepted, s.apiExecutionOf(e))
}

func (s *Server) apiExecutionRestart(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "id")
	var newID int64
	if err == nil {
		newID, err = s.restart(r.Context(), currentUser(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiExecutionCreated(w, r, newID)
}

func (s *Server) apiExecutionDelete(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "id")
	if err == nil {
		err = s.deleteExecution(r.Context(), currentUser(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiServiceLogs streams a service's output as plain text: from its
// container while it exists, from the log the lifecycle kept afterwards.
// With follow it flushes as lines arrive and stops when the container
// stops or the client goes away.
func (s *Server) apiServiceLogs(w http.ResponseWriter, r *http.Request) {
	e, err := s.apiVisible(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	q := r.URL.Query()
	tail, err := apiIntParam(q, "tail", 0, 0, 1<<31-1)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if tail == 0 {
		tail = -1 // everything
	}
	follow, timestamps := apiFlag(q.Get("follow")), apiFlag(q.Get("timestamps"))
	name := chi.URLParam(r, "service")
	rc, err := s.lc.ServiceLog(r.Context(), e, name, tail, follow)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "not_found", fmt.Sprintf("execution %d has no service %q", e.ID, name), "service")
		return
	case errors.Is(err, lifecycle.ErrNoLog):
		apiError(w, http.StatusConflict, "no_log", fmt.Sprintf("service %s has no container and no kept output", name), "service")
		return
	case err != nil && r.Context().Err() != nil:
		return
	case err != nil && store.IsUnavailable(err):
		s.apiFail(w, r, err)
		return
	case err != nil:
		s.log.Warn("service logs", "execution", e.ID, "service", name, "err", err)
		apiError(w, http.StatusServiceUnavailable, "unavailable", "the container engine did not give the output; try again in a moment", "")
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rctl := http.NewResponseController(w)
	if follow {
		_ = rctl.Flush()
	}
	// The lifecycle's output always carries the engine's timestamps, so
	// that kept logs can be merged and tailed; drop them unless asked.
	br := bufio.NewReaderSize(rc, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if !timestamps {
				line = apiStripTimestamp(line)
			}
			if _, werr := io.WriteString(w, line); werr != nil {
				return
			}
			if follow && br.Buffered() == 0 {
				if rctl.Flush() != nil {
					return
				}
			}
		}
		if err != nil {
			// The end of the output, the client leaving or the engine
			// closing the stream: the answer is over either way.
			return
		}
	}
}

// apiStripTimestamp removes the RFC 3339 time the engine puts before each
// line.
func apiStripTimestamp(line string) string {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return line
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return line
	}
	return rest
}

func apiFlag(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}
