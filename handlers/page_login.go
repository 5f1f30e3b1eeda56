package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/views"
)

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if currentUser(r) != nil {
		redirect(w, r, next)
		return
	}
	s.renderLogin(w, r, http.StatusOK, views.LoginView{Next: r.URL.Query().Get("next")})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, v views.LoginView) {
	s.render(w, r, status, views.LoginPage(s.page(r, "Sign in"), v), nil)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	username := strings.TrimSpace(r.PostFormValue("username"))
	v := views.LoginView{Username: username, Next: r.PostFormValue("next")}
	if username == "" || r.PostFormValue("password") == "" {
		v.Error = "Enter your username and password."
		s.renderLogin(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	u, err := s.gate.SignIn(r.Context(), username, r.PostFormValue("password"), auth.ClientIP(r))
	if err != nil {
		status := http.StatusUnauthorized
		var te *auth.ThrottleError
		switch {
		case errors.As(err, &te):
			status = http.StatusTooManyRequests
			secs := int(te.RetryAfter.Seconds() + 0.999)
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			v.Error = "Too many failed attempts. Wait " + plural(max(secs, 1), "second") + " and try again."
		case errors.Is(err, auth.ErrBadCredentials):
			v.Error = "Wrong username or password."
		case errors.Is(err, auth.ErrDisabled):
			status = http.StatusForbidden
			v.Error = "This account is disabled. Ask an administrator."
		case errors.Is(err, auth.ErrNoRole):
			status = http.StatusForbidden
			v.Error = "Your account has no role in Zoe. Ask an administrator to add you to a group."
		default:
			status = http.StatusServiceUnavailable
			s.log.Error("sign-in back-end failed", "username", username, "err", err)
			v.Error = "Sign-in is unavailable right now. Try again in a moment."
		}
		s.renderLogin(w, r, status, v)
		return
	}
	if err := s.sessions.Login(w, r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, localPath(v.Next))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.Logout(w, r); err != nil {
		s.serverError(w, r, err)
		return
	}
	redirect(w, r, "/login")
}

// localPath returns next when it is a path on this site, "/shop"
// otherwise, so that the sign-in form cannot send anyone elsewhere.
func localPath(next string) string {
	const fallback = "/shop"
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return fallback
	}
	return next
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
