package auth

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// The names under which forms and HTMX send the CSRF token.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// CSRFToken returns the token that forms must send back in the hidden
// field csrf_token and HTMX requests in the X-CSRF-Token header: a secret
// of the session for signed-in users, of the browser for visitors. It is
// empty when Middleware did not run and the visitor has no token yet.
func (s *Sessions) CSRFToken(r *http.Request) string {
	st, err := s.load(r)
	if err != nil {
		return ""
	}
	return st.csrf
}

// RequireCSRF refuses with 403 every POST, PUT, PATCH and DELETE that does
// not carry the request's CSRF token, or whose Origin (or Referer) names
// another site. Requests that authenticate with an Authorization header
// (API tokens, HTTP Basic) are let through: browsers do not add those to
// forged requests, and API clients have no cookies. It must run after
// Middleware.
func (s *Sessions) RequireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Basic") {
			next.ServeHTTP(w, r)
			return
		}
		if !s.sameOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		st, err := s.load(r)
		if err != nil {
			s.onError(w, r, err)
			return
		}
		sent := r.Header.Get(CSRFHeader)
		if sent == "" {
			sent = r.PostFormValue(CSRFField)
		}
		if st.csrf == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(st.csrf)) != 1 {
			http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin checks Origin, or Referer when there is no Origin, against the
// request's host and the trusted origins. A request with neither header
// passes (some privacy settings strip both); the token still guards it.
func (s *Sessions) sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
		if from == "" {
			return true
		}
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.origins[normalizeOrigin(u.Scheme+"://"+u.Host)]
}

func normalizeOrigin(o string) string {
	return strings.ToLower(strings.TrimRight(o, "/"))
}
