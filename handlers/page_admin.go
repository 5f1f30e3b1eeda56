package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

func (s *Server) platformPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	active, err := s.store.ActiveExecutions(ctx)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	counts, err := s.store.CountExecutionsByStatus(ctx)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	var v views.PlatformView
	byID := map[int64]store.Execution{}
	type hostUse struct {
		mem, milli int64
		execs      map[int64]*views.HostExecution
		order      []int64
	}
	use := map[string]*hostUse{}
	for _, e := range active {
		byID[e.ID] = e
		for _, sv := range e.Services {
			if sv.Host == "" || sv.Status == store.ServiceInactive || sv.BackendStatus == store.BackendDestroyed {
				continue
			}
			h := use[sv.Host]
			if h == nil {
				h = &hostUse{execs: map[int64]*views.HostExecution{}}
				use[sv.Host] = h
			}
			h.mem += sv.Memory
			h.milli += sv.MilliCores
			he := h.execs[e.ID]
			if he == nil {
				he = &views.HostExecution{ID: e.ID, Name: e.Name, Owner: e.Username}
				h.execs[e.ID] = he
				h.order = append(h.order, e.ID)
			}
			he.Services = append(he.Services, sv.Name)
		}
	}
	if s.lc != nil {
		for _, h := range s.lc.Hosts() {
			row := views.HostRow{
				Name: h.Name, Online: h.Online, Disabled: h.Disabled, Error: h.Err, Address: h.ExternalAddress,
				Labels: h.Labels, Containers: h.Containers, Memory: h.Memory, MilliCores: h.MilliCores, CheckedAt: h.CheckedAt,
			}
			if u := use[h.Name]; u != nil {
				row.ReservedMemory, row.ReservedMilliCores = u.mem, u.milli
				for _, id := range u.order {
					row.Executions = append(row.Executions, *u.execs[id])
				}
			}
			v.Hosts = append(v.Hosts, row)
		}
		for _, wt := range s.lc.Waits() {
			e := byID[wt.Request]
			row := views.QueueRow{ID: wt.Request, Name: e.Name, Owner: e.Username, Position: wt.Position, Reason: wt.Reason}
			for _, h := range wt.Hosts {
				row.Hosts = append(row.Hosts, h.String())
			}
			v.Queue = append(v.Queue, row)
		}
		c := s.lc.Counters()
		v.Counters = []views.Counter{
			{Label: "Submitted", Value: strconv.FormatInt(c.Submitted, 10)},
			{Label: "Started", Value: strconv.FormatInt(c.Started, 10)},
			{Label: "Terminated", Value: strconv.FormatInt(c.Terminated, 10)},
			{Label: "Failed", Value: strconv.FormatInt(c.Failed, 10)},
			{Label: "Died unexpectedly", Value: strconv.FormatInt(c.Died, 10)},
			{Label: "Scheduler passes", Value: strconv.FormatInt(c.Passes, 10)},
		}
		if !c.LastPass.IsZero() {
			v.Counters = append(v.Counters, views.Counter{Label: "Last pass took", Value: c.LastPassDuration.Round(time.Microsecond).String()})
		}
	}
	for _, st := range []string{store.StatusQueued, store.StatusStarting, store.StatusRunning, store.StatusCleaningUp, store.StatusError} {
		v.Statuses = append(v.Statuses, views.Counter{Label: st, Value: strconv.Itoa(counts[st])})
	}
	for _, p := range s.shop.Problems() {
		v.Problems = append(v.Problems, p.String())
	}
	p := s.page(r, "Platform")
	p.Nav = "platform"
	s.render(w, r, http.StatusOK, views.PlatformPage(p, v), views.PlatformPart(v))
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, views.UsersView{Form: views.UserForm{Role: string(auth.RoleUser)}, Message: userMessages[r.URL.Query().Get("done")]})
}

var userMessages = map[string]string{
	"created":  "The user was created.",
	"deleted":  "The user was deleted.",
	"saved":    "Saved.",
	"password": "The password was set and the user signed out everywhere.",
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, v views.UsersView) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	quotas, err := s.store.ListQuotas(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	names := quotaNames(quotas)
	for _, u := range users {
		v.Users = append(v.Users, userRow(u, names))
	}
	v.Roles = roleNames()
	v.Quotas = quotaOptions(quotas)
	if v.Errors == nil {
		v.Errors = views.FieldErrors{}
	}
	p := s.page(r, "Users")
	p.Nav = "users"
	s.render(w, r, status, views.UsersPage(p, v), nil)
}

func roleNames() []string {
	var out []string
	for _, r := range auth.Roles() {
		out = append(out, string(r))
	}
	return out
}

func quotaNames(qs []store.Quota) map[int64]string {
	m := map[int64]string{}
	for _, q := range qs {
		m[q.ID] = q.Name
	}
	return m
}

func quotaOptions(qs []store.Quota) []views.Option {
	out := []views.Option{{Value: "0", Label: store.DefaultQuota}}
	for _, q := range qs {
		if q.Name != store.DefaultQuota {
			out = append(out, views.Option{Value: strconv.FormatInt(q.ID, 10), Label: q.Name})
		}
	}
	return out
}

func userRow(u store.User, quotas map[int64]string) views.UserRow {
	row := views.UserRow{ID: u.ID, Username: u.Username, Role: u.Role, Source: u.Source, Email: u.Email, Enabled: u.Enabled, Created: u.CreatedAt, LastLogin: u.LastLoginAt, Quota: store.DefaultQuota}
	if u.QuotaID != nil {
		row.QuotaID = *u.QuotaID
		if n, ok := quotas[*u.QuotaID]; ok {
			row.Quota = n
		}
		if row.Quota == store.DefaultQuota {
			row.QuotaID = 0
		}
	}
	return row
}

// formQuota reads the quota select: nil for the default quota.
func formQuota(r *http.Request) (*int64, error) {
	id, err := strconv.ParseInt(r.PostFormValue("quota"), 10, 64)
	if err != nil || id < 0 {
		return nil, errors.New("choose a quota")
	}
	if id == 0 {
		return nil, nil
	}
	return &id, nil
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request) {
	form := views.UserForm{Username: strings.TrimSpace(r.PostFormValue("username")), Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role")}
	errs := views.FieldErrors{}
	if !usernamePattern.MatchString(form.Username) {
		errs["username"] = "Use 1 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit."
	}
	role, err := auth.ParseRole(form.Role)
	if err != nil {
		errs["role"] = "Choose a role."
	}
	quota, err := formQuota(r)
	if err != nil {
		errs[""] = "Choose a quota."
	}
	if quota != nil {
		form.QuotaID = *quota
	}
	pw := r.PostFormValue("password")
	if msg := checkNewPassword(pw); msg != "" {
		errs["password"] = msg
	}
	if len(errs) > 0 {
		s.renderUsers(w, r, http.StatusUnprocessableEntity, views.UsersView{Form: form, Errors: errs})
		return
	}
	u := &store.User{Username: form.Username, Email: form.Email, Role: string(role), QuotaID: quota, Enabled: true}
	err = auth.CreateUser(r.Context(), s.store, u, pw)
	switch {
	case errors.Is(err, store.ErrConflict):
		s.renderUsers(w, r, http.StatusConflict, views.UsersView{Form: form, Errors: views.FieldErrors{"username": "This username is taken."}})
		return
	case errors.Is(err, store.ErrNotFound):
		s.renderUsers(w, r, http.StatusUnprocessableEntity, views.UsersView{Form: form, Errors: views.FieldErrors{"": "That quota no longer exists."}})
		return
	case err != nil:
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, fmt.Sprintf("/admin/users/%d?done=created", u.ID))
}

func (s *Server) pathUser(r *http.Request) (store.User, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "user"), 10, 64)
	if err != nil {
		return store.User{}, ErrNotFound
	}
	return s.store.UserByID(r.Context(), id)
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	u, err := s.pathUser(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	s.renderUser(w, r, http.StatusOK, u, views.UserView{Message: userMessages[r.URL.Query().Get("done")]})
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, status int, u store.User, v views.UserView) {
	quotas, err := s.store.ListQuotas(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	q, usage, err := s.quotaOf(r.Context(), &u)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	v.User = userRow(u, quotaNames(quotas))
	v.Self = u.ID == currentUser(r).ID
	v.Roles = roleNames()
	v.Quotas = quotaOptions(quotas)
	v.Usage = usageView(q, usage, u.Role == string(auth.RoleGuest))
	if v.Errors == nil {
		v.Errors = views.FieldErrors{}
	}
	p := s.page(r, u.Username)
	p.Nav = "users"
	s.render(w, r, status, views.UserPage(p, v), nil)
}

// userUpdate saves the account form (action=update) or sets a new password
// (action=password). A user whose role changes or who is disabled is
// signed out everywhere, so the change holds at once.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) {
	u, err := s.pathUser(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	self := u.ID == currentUser(r).ID
	ctx := r.Context()
	if r.PostFormValue("action") == "password" {
		pw := r.PostFormValue("password")
		if msg := checkNewPassword(pw); msg != "" {
			s.renderUser(w, r, http.StatusUnprocessableEntity, u, views.UserView{Errors: views.FieldErrors{"password": msg}})
			return
		}
		if err := auth.SetPassword(ctx, s.store, u.ID, pw); err != nil {
			s.pageProblem(w, r, err)
			return
		}
		if err := s.sessions.EndUserSessions(ctx, u.ID); err != nil {
			s.pageProblem(w, r, err)
			return
		}
		if self {
			if err := s.sessions.Login(w, r, u); err != nil {
				s.serverError(w, r, err)
				return
			}
		}
		redirect(w, r, fmt.Sprintf("/admin/users/%d?done=password", u.ID))
		return
	}
	errs := views.FieldErrors{}
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		errs["role"] = "Choose a role."
	}
	quota, err := formQuota(r)
	if err != nil {
		errs[""] = "Choose a quota."
	}
	enabled := r.PostFormValue("enabled") != ""
	if self && role != auth.Role(u.Role) {
		errs["role"] = "You cannot change your own role; ask another administrator."
	}
	if self && !enabled {
		errs["enabled"] = "You cannot disable your own account."
	}
	if len(errs) > 0 {
		s.renderUser(w, r, http.StatusUnprocessableEntity, u, views.UserView{Errors: errs})
		return
	}
	signOut := role != auth.Role(u.Role) || (u.Enabled && !enabled)
	u.Role, u.QuotaID, u.Enabled, u.Email = string(role), quota, enabled, strings.TrimSpace(r.PostFormValue("email"))
	if err := s.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.renderUser(w, r, http.StatusUnprocessableEntity, u, views.UserView{Errors: views.FieldErrors{"": "That quota no longer exists."}})
			return
		}
		s.pageProblem(w, r, err)
		return
	}
	s.userChanged(u.ID)
	if signOut {
		if err := s.sessions.EndUserSessions(ctx, u.ID); err != nil {
			s.pageProblem(w, r, err)
			return
		}
	}
	redirect(w, r, fmt.Sprintf("/admin/users/%d?done=saved", u.ID))
}

func (s *Server) userDelete(w http.ResponseWriter, r *http.Request) {
	u, err := s.pathUser(r)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if u.ID == currentUser(r).ID {
		s.renderUser(w, r, http.StatusConflict, u, views.UserView{Errors: views.FieldErrors{"": "You cannot delete your own account."}})
		return
	}
	err = s.store.DeleteUser(r.Context(), u.ID)
	if errors.Is(err, store.ErrConflict) {
		s.renderUser(w, r, http.StatusConflict, u, views.UserView{Errors: views.FieldErrors{"": u.Username + " still has active executions: terminate them first."}})
		return
	}
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	s.userChanged(u.ID)
	redirect(w, r, "/admin/users?done=deleted")
}

var quotaMessages = map[string]string{
	"saved":   "The quota was saved.",
	"created": "The quota was created.",
}

func (s *Server) quotasPage(w http.ResponseWriter, r *http.Request) {
	s.renderQuotas(w, r, http.StatusOK, views.QuotasView{Message: quotaMessages[r.URL.Query().Get("done")]})
}

func (s *Server) renderQuotas(w http.ResponseWriter, r *http.Request, status int, v views.QuotasView) {
	quotas, err := s.store.ListQuotas(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	count := map[string]int{}
	names := quotaNames(quotas)
	for _, u := range users {
		count[userRow(u, names).Quota]++
	}
	for _, q := range quotas {
		row := quotaRow(q)
		row.Users = count[q.Name]
		v.Quotas = append(v.Quotas, row)
	}
	sort.SliceStable(v.Quotas, func(i, j int) bool { return v.Quotas[i].Default && !v.Quotas[j].Default })
	if v.Errors == nil {
		v.Errors = views.FieldErrors{}
	}
	p := s.page(r, "Quotas")
	p.Nav = "quotas"
	s.render(w, r, status, views.QuotasPage(p, v), nil)
}

func quotaRow(q store.Quota) views.QuotaRow {
	return views.QuotaRow{
		ID: q.ID, Name: q.Name, Executions: q.ConcurrentExecutions,
		MemoryGiB:   quotaNumber(float64(q.Memory) / (1 << 30)),
		Cores:       quotaNumber(float64(q.MilliCores) / 1000),
		RuntimeHour: quotaNumber(q.RuntimeLimit.Hours()),
		Default:     q.Name == store.DefaultQuota,
	}
}

func quotaNumber(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

// quotaSave creates a quota (no id) or saves one.
func (s *Server) quotaSave(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, _ := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	row := views.QuotaRow{
		ID: id, Name: strings.TrimSpace(r.PostFormValue("name")),
		MemoryGiB: r.PostFormValue("memory"), Cores: r.PostFormValue("cores"), RuntimeHour: r.PostFormValue("runtime"),
	}
	errs := views.FieldErrors{}
	number := func(field, label string) float64 {
		v := strings.TrimSpace(r.PostFormValue(field))
		if v == "" {
			return 0
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
			errs[""] = label + " must be a number, 0 or more (0 is unlimited)."
			return 0
		}
		return f
	}
	execs := number("executions", "Executions at once")
	mem := number("memory", "Memory")
	cores := number("cores", "Cores")
	hours := number("runtime", "Run time")
	if execs != math.Trunc(execs) {
		errs[""] = "Executions at once must be a whole number."
	}
	// A run time converted to a time.Duration must not wrap around.
	if hours > maxDurationHours {
		errs[""] = fmt.Sprintf("Run time must be at most %.0f hours (0 is unlimited).", maxDurationHours)
	}
	if row.Name == "" || len(row.Name) > 64 {
		errs["name"] = "Give the quota a name of 1 to 64 characters."
	}
	row.Executions = int(execs)
	if len(errs) > 0 {
		s.quotaRefused(w, r, http.StatusUnprocessableEntity, row, errs)
		return
	}
	q := store.Quota{
		ID: id, Name: row.Name, ConcurrentExecutions: int(execs),
		Memory: int64(math.Round(mem * (1 << 30))), MilliCores: int64(math.Round(cores * 1000)),
		RuntimeLimit: time.Duration(math.Round(hours * float64(time.Hour))),
	}
	var err error
	done := "saved"
	if id == 0 {
		_, err = s.store.CreateQuota(ctx, &q)
		done = "created"
	} else {
		err = s.store.UpdateQuota(ctx, q)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		s.quotaRefused(w, r, http.StatusConflict, row, views.FieldErrors{"name": "This name is taken (and the default quota keeps its name)."})
		return
	case err != nil:
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, "/admin/quotas?done="+done)
}

// maxDurationHours is the longest run time a time.Duration holds, about
// 292 years.
const maxDurationHours = float64(math.MaxInt64/time.Hour) - 1

// quotaRefused shows the quotas page with the errors of the form sent:
// beside the new-quota form, or at the top for an existing quota.
func (s *Server) quotaRefused(w http.ResponseWriter, r *http.Request, status int, row views.QuotaRow, errs views.FieldErrors) {
	v := views.QuotasView{Errors: errs}
	if row.ID == 0 {
		v.Form = row
	} else {
		msgs := []string{}
		for _, m := range errs {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		v.Errors = views.FieldErrors{"": "Quota " + row.Name + " was not saved: " + strings.Join(msgs, " ")}
	}
	s.renderQuotas(w, r, status, v)
}
