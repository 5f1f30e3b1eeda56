package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

type apiUserJSON struct {
	ID          int64    `json:"id"`
	Username    string   `json:"username"`
	Role        string   `json:"role"`
	Source      string   `json:"source"`
	Email       string   `json:"email"`
	FSUID       int      `json:"fs_uid"`
	Enabled     bool     `json:"enabled"`
	Quota       string   `json:"quota"`
	CreatedAt   apiTime  `json:"created_at"`
	LastLoginAt *apiTime `json:"last_login_at"`
}

// apiUserOf shows u; quotas maps quota IDs to names ("" is the default).
func apiUserOf(u store.User, quotas map[int64]string) apiUserJSON {
	j := apiUserJSON{
		ID: u.ID, Username: u.Username, Role: u.Role, Source: u.Source, Email: u.Email, FSUID: u.FSUID, Enabled: u.Enabled,
		Quota: store.DefaultQuota, CreatedAt: apiTime(u.CreatedAt), LastLoginAt: apiTimePtr(u.LastLoginAt),
	}
	if u.QuotaID != nil {
		j.Quota = quotas[*u.QuotaID]
	}
	return j
}

type apiQuotaJSON struct {
	ID                   int64   `json:"id"`
	Name                 string  `json:"name"`
	ConcurrentExecutions int     `json:"concurrent_executions"`
	Memory               int64   `json:"memory"`
	MemoryHuman          string  `json:"memory_human"`
	Cores                float64 `json:"cores"`
	RuntimeLimit         int64   `json:"runtime_limit"`
	RuntimeLimitHuman    string  `json:"runtime_limit_human"`
}

func apiQuotaOf(q store.Quota) apiQuotaJSON {
	j := apiQuotaJSON{
		ID: q.ID, Name: q.Name, ConcurrentExecutions: q.ConcurrentExecutions, Memory: q.Memory, MemoryHuman: zapp.Bytes(q.Memory).String(),
		Cores: apiCoresNumber(q.MilliCores), RuntimeLimit: int64(q.RuntimeLimit / time.Second), RuntimeLimitHuman: q.RuntimeLimit.String(),
	}
	if q.Memory == 0 {
		j.MemoryHuman = "unlimited"
	}
	if q.RuntimeLimit == 0 {
		j.RuntimeLimitHuman = "unlimited"
	}
	return j
}

type apiTokenJSON struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	CreatedAt  apiTime  `json:"created_at"`
	LastUsedAt *apiTime `json:"last_used_at"`
	ExpiresAt  *apiTime `json:"expires_at"`
}

func apiTokenOf(t store.Token) apiTokenJSON {
	return apiTokenJSON{ID: t.ID, Name: t.Name, CreatedAt: apiTime(t.CreatedAt), LastUsedAt: apiTimePtr(t.LastUsedAt), ExpiresAt: apiTimePtr(t.ExpiresAt)}
}

// apiQuotaNames maps quota IDs to names for showing users.
func (s *Server) apiQuotaNames(ctx context.Context) (map[int64]string, error) {
	qs, err := s.store.ListQuotas(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(qs))
	for _, q := range qs {
		m[q.ID] = q.Name
	}
	return m, nil
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	ctx := r.Context()
	q, err := s.store.QuotaForUser(ctx, u.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	usage, err := s.store.UsageByUser(ctx, u.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	names, err := s.apiQuotaNames(ctx)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	capabilities := []string{}
	for c := auth.AccessAPI; c <= auth.FullShop; c++ {
		if auth.UserCan(u, c) {
			capabilities = append(capabilities, c.String())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user":         apiUserOf(*u, names),
		"role":         u.Role,
		"capabilities": capabilities,
		"quota":        apiQuotaOf(auth.EffectiveQuota(auth.Role(u.Role), q)),
		"usage": map[string]any{
			"executions": usage.Executions, "memory": usage.Memory, "memory_human": zapp.Bytes(usage.Memory).String(),
			"cores": apiCoresNumber(usage.MilliCores),
		},
	})
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.store.ListTokens(r.Context(), currentUser(r).ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]apiTokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, apiTokenOf(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) apiTokenCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	var errs zapp.Errors
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case req.Name == "":
		errs = append(errs, zapp.FieldError{Path: "name", Message: "must not be empty"})
	case len(req.Name) > 64:
		errs = append(errs, zapp.FieldError{Path: "name", Message: "must be at most 64 characters"})
	}
	if req.ExpiresAt != nil && !req.ExpiresAt.After(time.Now()) {
		errs = append(errs, zapp.FieldError{Path: "expires_at", Message: "must be in the future"})
	}
	if len(errs) > 0 {
		s.apiFail(w, r, errs)
		return
	}
	u := currentUser(r)
	secret, t, err := auth.IssueToken(r.Context(), s.store, *u, req.Name, req.ExpiresAt)
	if errors.Is(err, store.ErrConflict) {
		apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("you already have a token named %q", req.Name), "name")
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/me/tokens/%d", t.ID))
	writeJSON(w, http.StatusCreated, map[string]any{"token": apiTokenOf(t), "secret": secret})
}

func (s *Server) apiTokenDelete(w http.ResponseWriter, r *http.Request) {
	id, err := apiIDParam(r, "token")
	if err == nil {
		err = s.store.DeleteToken(r.Context(), currentUser(r).ID, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiUsernamePattern is what a new built-in account may be called: the
// name also names the user's workspace directory.
var apiUsernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	names, err := s.apiQuotaNames(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]apiUserJSON, 0, len(users))
	for _, u := range users {
		out = append(out, apiUserOf(u, names))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// apiUserRequest is the body of POST /users and PATCH /users/{user}; nil
// fields are left as they are.
type apiUserRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Role     *string `json:"role"`
	Email    *string `json:"email"`
	FSUID    *int    `json:"fs_uid"`
	Quota    *string `json:"quota"`
	Enabled  *bool   `json:"enabled"`
}

// apply validates req and sets its fields on u, collecting every field
// error.
func (s *Server) apiApplyUser(ctx context.Context, req apiUserRequest, u *store.User, errs *zapp.Errors) error {
	if req.Password != nil {
		switch {
		case *req.Password == "":
			*errs = append(*errs, zapp.FieldError{Path: "password", Message: "must not be empty"})
		case len(*req.Password) > 72:
			*errs = append(*errs, zapp.FieldError{Path: "password", Message: "must be at most 72 bytes"})
		}
	}
	if req.Role != nil {
		if _, err := auth.ParseRole(*req.Role); err != nil {
			*errs = append(*errs, zapp.FieldError{Path: "role", Message: "must be guest, user or admin"})
		}
		u.Role = *req.Role
	}
	if req.Email != nil {
		e := strings.TrimSpace(*req.Email)
		if e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>")) {
			*errs = append(*errs, zapp.FieldError{Path: "email", Message: "must be an e-mail address"})
		}
		u.Email = e
	}
	if req.FSUID != nil {
		if *req.FSUID < 0 {
			*errs = append(*errs, zapp.FieldError{Path: "fs_uid", Message: "must not be negative"})
		}
		u.FSUID = *req.FSUID
	}
	if req.Quota != nil {
		name := strings.TrimSpace(*req.Quota)
		if name == "" || name == store.DefaultQuota {
			u.QuotaID = nil
		} else {
			q, err := s.store.QuotaByName(ctx, name)
			switch {
			case errors.Is(err, store.ErrNotFound):
				*errs = append(*errs, zapp.FieldError{Path: "quota", Message: fmt.Sprintf("no quota named %q", name)})
			case err != nil:
				return err
			default:
				u.QuotaID = &q.ID
			}
		}
	}
	if req.Enabled != nil {
		u.Enabled = *req.Enabled
	}
	return nil
}

func (s *Server) apiUserCreate(w http.ResponseWriter, r *http.Request) {
	var req apiUserRequest
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	ctx := r.Context()
	u := store.User{Role: string(auth.RoleUser), Enabled: true}
	var errs zapp.Errors
	if req.Username == nil || !apiUsernamePattern.MatchString(*req.Username) {
		errs = append(errs, zapp.FieldError{Path: "username", Message: "must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"})
	} else {
		u.Username = *req.Username
	}
	if req.Password == nil {
		errs = append(errs, zapp.FieldError{Path: "password", Message: "must not be empty"})
	}
	if err := s.apiApplyUser(ctx, req, &u, &errs); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if len(errs) > 0 {
		s.apiFail(w, r, errs)
		return
	}
	err := auth.CreateUser(ctx, s.store, &u, *req.Password)
	if errors.Is(err, store.ErrConflict) {
		apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("a user named %q exists", u.Username), "username")
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiUserAnswer(w, r, http.StatusCreated, u.Username)
}

func (s *Server) apiUserAnswer(w http.ResponseWriter, r *http.Request, status int, username string) {
	u, err := s.store.UserByName(r.Context(), username)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	names, err := s.apiQuotaNames(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/v1/users/"+u.Username)
	}
	writeJSON(w, status, apiUserOf(u, names))
}

// apiUserParam is the user the {user} path parameter names, by username.
func (s *Server) apiUserParam(r *http.Request) (store.User, error) {
	return s.store.UserByName(r.Context(), chi.URLParam(r, "user"))
}

func (s *Server) apiUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.apiUserParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiUserAnswer(w, r, http.StatusOK, u.Username)
}

func (s *Server) apiUserUpdate(w http.ResponseWriter, r *http.Request) {
	u, err := s.apiUserParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req apiUserRequest
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	ctx := r.Context()
	me := currentUser(r)
	var errs zapp.Errors
	if req.Username != nil && *req.Username != u.Username {
		errs = append(errs, zapp.FieldError{Path: "username", Message: "cannot be changed"})
	}
	wasEnabled := u.Enabled
	if err := s.apiApplyUser(ctx, req, &u, &errs); err != nil {
		s.apiFail(w, r, err)
		return
	}
	// An admin who demotes or disables themselves locks themselves out of
	// this very page; another admin has to do it.
	if u.ID == me.ID {
		if u.Role != me.Role {
			errs = append(errs, zapp.FieldError{Path: "role", Message: "you cannot change your own role"})
		}
		if !u.Enabled {
			errs = append(errs, zapp.FieldError{Path: "enabled", Message: "you cannot disable your own account"})
		}
	}
	if len(errs) > 0 {
		s.apiFail(w, r, errs)
		return
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.userChanged(u.ID)
	if req.Password != nil {
		if err := auth.SetPassword(ctx, s.store, u.ID, *req.Password); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	if (req.Password != nil || (wasEnabled && !u.Enabled)) && u.ID != me.ID && s.sessions != nil {
		if err := s.sessions.EndUserSessions(ctx, u.ID); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	s.apiUserAnswer(w, r, http.StatusOK, u.Username)
}

func (s *Server) apiUserDelete(w http.ResponseWriter, r *http.Request) {
	u, err := s.apiUserParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if u.ID == currentUser(r).ID {
		apiError(w, http.StatusConflict, "self", "you cannot delete your own account", "user")
		return
	}
	err = s.store.DeleteUser(r.Context(), u.ID)
	if errors.Is(err, store.ErrConflict) {
		apiError(w, http.StatusConflict, "active_executions", fmt.Sprintf("%s has active executions: terminate them first", u.Username), "user")
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.userChanged(u.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiQuotas(w http.ResponseWriter, r *http.Request) {
	qs, err := s.store.ListQuotas(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]apiQuotaJSON, 0, len(qs))
	for _, q := range qs {
		out = append(out, apiQuotaOf(q))
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotas": out})
}

// apiQuotaRequest is the body of POST /quotas and PATCH /quotas/{quota};
// absent fields are left as they are (0 when creating: unlimited).
type apiQuotaRequest struct {
	Name                 *string         `json:"name"`
	ConcurrentExecutions *int            `json:"concurrent_executions"`
	Memory               json.RawMessage `json:"memory"`
	Cores                json.RawMessage `json:"cores"`
	RuntimeLimit         json.RawMessage `json:"runtime_limit"`
}

var apiQuotaNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{0,63}$`)

func (req apiQuotaRequest) apply(q *store.Quota) zapp.Errors {
	var errs zapp.Errors
	if req.Name != nil {
		if !apiQuotaNamePattern.MatchString(*req.Name) {
			errs = append(errs, zapp.FieldError{Path: "name", Message: "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter"})
		}
		q.Name = *req.Name
	}
	if req.ConcurrentExecutions != nil {
		if *req.ConcurrentExecutions < 0 {
			errs = append(errs, zapp.FieldError{Path: "concurrent_executions", Message: "must not be negative (0 is unlimited)"})
		}
		q.ConcurrentExecutions = *req.ConcurrentExecutions
	}
	if req.Memory != nil {
		q.Memory = apiSize(req.Memory, "memory", &errs)
	}
	if req.Cores != nil {
		q.MilliCores = apiCores(req.Cores, "cores", &errs)
	}
	if req.RuntimeLimit != nil {
		q.RuntimeLimit = apiDuration(req.RuntimeLimit, "runtime_limit", &errs)
	}
	return errs
}

// apiDuration reads a number of seconds or a Go duration ("12h", "90m").
func apiDuration(raw json.RawMessage, path string, errs *zapp.Errors) time.Duration {
	if string(raw) == "null" {
		return 0
	}
	// Seconds beyond what a time.Duration holds would wrap around to a
	// negative limit.
	maxSecs := float64(math.MaxInt64 / time.Second)
	var secs float64
	if json.Unmarshal(raw, &secs) == nil && secs >= 0 && secs < maxSecs {
		return time.Duration(secs * float64(time.Second))
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		if d, err := time.ParseDuration(str); err == nil && d >= 0 {
			return d
		}
		if n, err := strconv.ParseFloat(str, 64); err == nil && n >= 0 && n < maxSecs {
			return time.Duration(n * float64(time.Second))
		}
	}
	*errs = append(*errs, zapp.FieldError{Path: path, Message: `must be a number of seconds or a duration such as "12h" (0 is unlimited)`})
	return 0
}

func (s *Server) apiQuotaCreate(w http.ResponseWriter, r *http.Request) {
	var req apiQuotaRequest
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	var q store.Quota
	errs := req.apply(&q)
	if req.Name == nil {
		errs = append(zapp.Errors{{Path: "name", Message: "must not be empty"}}, errs...)
	}
	if len(errs) > 0 {
		s.apiFail(w, r, errs)
		return
	}
	_, err := s.store.CreateQuota(r.Context(), &q)
	if errors.Is(err, store.ErrConflict) {
		apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("a quota named %q exists", q.Name), "name")
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/quotas/%d", q.ID))
	writeJSON(w, http.StatusCreated, apiQuotaOf(q))
}

// apiQuotaParam is the quota {quota} names: by ID, or by name (quota
// names start with a letter, so the two never clash).
func (s *Server) apiQuotaParam(r *http.Request) (store.Quota, error) {
	p := chi.URLParam(r, "quota")
	if id, err := strconv.ParseInt(p, 10, 64); err == nil {
		return s.store.QuotaByID(r.Context(), id)
	}
	return s.store.QuotaByName(r.Context(), p)
}

func (s *Server) apiQuotaUpdate(w http.ResponseWriter, r *http.Request) {
	q, err := s.apiQuotaParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req apiQuotaRequest
	if err := apiDecode(w, r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	wasDefault := q.Name == store.DefaultQuota
	errs := req.apply(&q)
	if wasDefault && q.Name != store.DefaultQuota {
		errs = append(errs, zapp.FieldError{Path: "name", Message: "the default quota cannot be renamed"})
	}
	if len(errs) > 0 {
		s.apiFail(w, r, errs)
		return
	}
	err = s.store.UpdateQuota(r.Context(), q)
	if errors.Is(err, store.ErrConflict) {
		apiError(w, http.StatusConflict, "conflict", fmt.Sprintf("a quota named %q exists", q.Name), "name")
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiQuotaOf(q))
}

func (s *Server) apiQuotaDelete(w http.ResponseWriter, r *http.Request) {
	q, err := s.apiQuotaParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if q.Name == store.DefaultQuota {
		apiError(w, http.StatusConflict, "default_quota", "the default quota cannot be deleted", "quota")
		return
	}
	if err := s.store.DeleteQuota(r.Context(), q.ID); err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
