package handlers

import (
	"net/http"

	"github.com/a-h/templ"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/views"
)

// isHTMX reports whether r came from htmx, which wants a fragment.
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// render writes a full page, or only fragment when htmx asked and fragment
// is not nil. Responses vary on HX-Request so caches keep both.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page, fragment templ.Component) {
	w.Header().Add("Vary", "HX-Request")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	c := page
	if fragment != nil && isHTMX(r) {
		c = fragment
	}
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		if r.Context().Err() != nil {
			s.log.Debug("client went away during render", "path", r.URL.Path, "err", err)
			return
		}
		s.log.Error("render failed", "path", r.URL.Path, "err", err)
	}
}

// redirect sends the browser to url after a form: HX-Redirect for htmx, 303
// otherwise, so a reload never re-submits.
func redirect(w http.ResponseWriter, r *http.Request, url string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", url)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// page is the frame every full page needs: the viewer and the CSRF token.
func (s *Server) page(r *http.Request, title string) views.Page {
	p := views.Page{Title: title, Version: s.version}
	if u := currentUser(r); u != nil {
		p.User = &views.Viewer{Name: u.Username, Role: u.Role, Admin: u.Role == string(auth.RoleAdmin), Guest: u.Role == string(auth.RoleGuest)}
	}
	if s.sessions != nil {
		p.CSRFToken = s.sessions.CSRFToken(r)
	}
	return p
}

var viewsErrorPage = views.ErrorPage

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, views.ErrorPage(s.page(r, "Not found"), http.StatusNotFound, "There is nothing at this address."), nil)
}
