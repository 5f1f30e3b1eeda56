package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

const minPasswordLength = 8

var accountMessages = map[string]string{
	"password": "Your password was changed; other sessions were signed out.",
	"revoked":  "The token was revoked.",
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, views.AccountView{Message: accountMessages[r.URL.Query().Get("done")]})
}

// renderAccount fills v with the user's account and renders it.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, v views.AccountView) {
	u := currentUser(r)
	q, err := s.quotaUsage(r.Context(), u)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	v.Username, v.Role, v.Source, v.Email, v.Quota = u.Username, u.Role, u.Source, u.Email, q
	v.ChangePassword = u.Source == auth.SourceBuiltin
	v.Tokens = auth.UserCan(u, auth.AccessAPI)
	for _, c := range []auth.Capability{auth.AccessAPI, auth.CustomizeResources, auth.OperateOthers, auth.DeleteExecutions, auth.ManageUsers, auth.SeePlatform, auth.FullShop} {
		if auth.UserCan(u, c) {
			v.Capabilities = append(v.Capabilities, c.String())
		}
	}
	if v.Tokens {
		toks, err := s.store.ListTokens(r.Context(), u.ID)
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		for _, t := range toks {
			v.TokenRows = append(v.TokenRows, views.TokenRow{ID: t.ID, Name: t.Name, Created: t.CreatedAt, LastUsed: t.LastUsedAt, Expires: t.ExpiresAt})
		}
	}
	if v.Errors == nil {
		v.Errors = views.FieldErrors{}
	}
	p := s.page(r, "Account")
	p.Nav = "account"
	s.render(w, r, status, views.AccountPage(p, v), nil)
}

func (s *Server) accountPassword(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	if u.Source != auth.SourceBuiltin {
		s.pageError(w, r, http.StatusForbidden, "Your password is managed outside Zoe.")
		return
	}
	errs := views.FieldErrors{}
	current, next := r.PostFormValue("current"), r.PostFormValue("new")
	if !auth.CheckPassword(u.PasswordHash, current) {
		errs["current"] = "This is not your current password."
	}
	if msg := checkNewPassword(next); msg != "" {
		errs["new"] = msg
	} else if r.PostFormValue("confirm") != next {
		errs["confirm"] = "The two new passwords differ."
	}
	if len(errs) > 0 {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, views.AccountView{Errors: errs})
		return
	}
	if err := auth.SetPassword(r.Context(), s.store, u.ID, next); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	// Sign out everywhere else, and keep this browser in with a new session.
	if err := s.sessions.EndUserSessions(r.Context(), u.ID); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	if err := s.sessions.Login(w, r, *u); err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, "/account?done=password")
}

// checkNewPassword is the portal's rule for new passwords, on top of
// auth.HashPassword's; it returns what to tell the user, "" if pw is fine.
func checkNewPassword(pw string) string {
	if len(pw) < minPasswordLength {
		return "Use at least " + strconv.Itoa(minPasswordLength) + " characters."
	}
	if len(pw) > 72 {
		return "Use at most 72 bytes."
	}
	return ""
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 64 {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, views.AccountView{Errors: views.FieldErrors{"name": "Give the token a name of 1 to 64 characters, such as the machine that uses it."}})
		return
	}
	secret, _, err := auth.IssueToken(r.Context(), s.store, *u, name, nil)
	if errors.Is(err, store.ErrConflict) {
		s.renderAccount(w, r, http.StatusConflict, views.AccountView{Errors: views.FieldErrors{"name": "You already have a token with this name."}})
		return
	}
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	// The secret is shown in this response only: it is never stored.
	s.renderAccount(w, r, http.StatusOK, views.AccountView{NewToken: secret, NewTokenName: name})
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "token"), 10, 64)
	if err != nil {
		s.pageProblem(w, r, ErrNotFound)
		return
	}
	if err := s.store.DeleteToken(r.Context(), currentUser(r).ID, id); err != nil {
		s.pageProblem(w, r, err)
		return
	}
	redirect(w, r, "/account?done=revoked")
}
