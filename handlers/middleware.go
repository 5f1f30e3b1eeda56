package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
)

// currentUser is the signed-in user of a page request (nil for visitors)
// or the authenticated user of an API request.
func currentUser(r *http.Request) *store.User { return auth.FromContext(r.Context()) }

// userChanged makes a change to an account (role, quota, enabled, or its
// deletion) hold for the next request in this process: sessions keep the
// resolved user for up to a second otherwise (auth.SessionCache).
func (s *Server) userChanged(id int64) {
	if s.sessions != nil {
		s.sessions.ForgetUser(id)
	}
	// zoe serve gives both origins one cache: one scan forgets the user.
	if p := s.proxyCfg.Sessions; p != nil && (s.sessions == nil || p.Cache() != s.sessions.Cache()) {
		p.ForgetUser(id)
	}
}

// signedIn sends visitors to the sign-in page, then back.
func (s *Server) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			target := "/login"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			redirect(w, r, target)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requirePage refuses pages to signed-in users who lack capability c.
func (s *Server) requirePage(c auth.Capability) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.UserCan(currentUser(r), c) {
				s.pageError(w, r, http.StatusForbidden, "Your role cannot "+c.String()+".")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// apiAuth authenticates JSON API requests by bearer token or HTTP Basic;
// cookies are never looked at, so the API needs no CSRF token.
func (s *Server) apiAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && crossSite(r) {
			apiError(w, http.StatusForbidden, "forbidden", "cross-site API request refused: call the API from a client, not from a web page of another site", "")
			return
		}
		u, err := s.gate.AuthenticateRequest(r)
		if err != nil {
			switch {
			case errors.Is(err, auth.ErrNoAPIAccess):
				apiError(w, http.StatusForbidden, "forbidden", "your role cannot use the API", "")
			case errors.Is(err, auth.ErrThrottled):
				apiError(w, http.StatusTooManyRequests, "throttled", err.Error(), "")
			case errors.Is(err, auth.ErrNoCredentials), errors.Is(err, auth.ErrBadToken), errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrDisabled):
				w.Header().Set("WWW-Authenticate", `Bearer realm="zoe", Basic realm="zoe"`)
				apiError(w, http.StatusUnauthorized, "unauthorized", "sign in with an API token (Authorization: Bearer zoe_…) or HTTP Basic", "")
			default:
				s.apiProblem(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), u)))
	})
}

// crossSite reports a request that a browser sent for a page of another
// site. A browser that once signed in to the API through its HTTP Basic
// prompt adds the Authorization header to such requests by itself, and a
// form with enctype="text/plain" can shape its body into JSON, so the API
// would act for a user who only visited that page. The API's own clients
// send neither header.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	}
	from := r.Header.Get("Origin")
	if from == "" {
		return false
	}
	u, err := url.Parse(from)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}

// requireAPI refuses API calls by users who lack capability c.
func (s *Server) requireAPI(c auth.Capability) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !auth.UserCan(currentUser(r), c) {
				apiError(w, http.StatusForbidden, "forbidden", "your role cannot "+c.String(), "")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// apiError writes the API's one error shape.
func apiError(w http.ResponseWriter, status int, code, message, field string) {
	body := map[string]any{"code": code, "message": message}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, map[string]any{"error": body})
}

// apiProblem answers an operation's error in the API's shape; validation
// errors list every field.
func (s *Server) apiProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Status == http.StatusInternalServerError {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := map[string]any{"code": p.Code, "message": p.Message}
	if len(p.Fields) > 0 {
		body["field"] = p.Fields[0].Path
		fields := make([]map[string]string, len(p.Fields))
		for i, f := range p.Fields {
			fields[i] = map[string]string{"field": f.Path, "message": f.Message}
		}
		body["fields"] = fields
	}
	writeJSON(w, p.Status, map[string]any{"error": body})
}

// pageError renders the error page with status.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, status int, message string) {
	s.render(w, r, status, viewsErrorPage(s.page(r, "Error"), status, message), nil)
}

// pageProblem renders an operation's error as a page.
func (s *Server) pageProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Status == http.StatusInternalServerError {
		if r.Context().Err() != nil {
			s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
			return
		}
		s.log.Error("page request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.pageError(w, r, p.Status, p.Message)
}
