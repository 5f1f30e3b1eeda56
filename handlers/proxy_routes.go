package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

// The paths of the handoff: the portal's page that vouches for its user
// (and warns admins), and the proxy origin's page that takes the ticket.
const (
	proxyLoginPath = "/proxy-login"
	proxyAuthPath  = "/_zoe/auth"
)

// origin says which listener a proxied request came through.
type origin int

const (
	portalOrigin  origin = iota // services share the portal's origin
	serviceOrigin               // ProxyRoutes: the services' own origin
)

// proxy serves /proxy/… on the portal's listener. When services have an
// origin of their own the portal never serves them: browsers are sent
// through the handoff instead.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	if s.proxyCfg.BaseURL != "" {
		s.proxyElsewhere(w, r)
		return
	}
	s.serveProxy(w, r, portalOrigin, false)
}

// proxySlash serves /proxy/{execution}/{service}/{port} without its
// trailing slash: a redirect to the prefix services serve under.
func (s *Server) proxySlash(w http.ResponseWriter, r *http.Request) {
	if s.proxyCfg.BaseURL != "" {
		s.proxyElsewhere(w, r)
		return
	}
	s.serveProxy(w, r, portalOrigin, true)
}

func (s *Server) proxyElsewhere(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "services are served at "+s.proxyCfg.BaseURL, http.StatusNotFound)
		return
	}
	http.Redirect(w, r, proxyLoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// ProxyRoutes is the handler of the proxy's own listener (proxy-listen):
// only /proxy/… and the handoff, with sessions of that origin.
func (s *Server) ProxyRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.requestLog)
	r.Get("/healthz", s.healthz)
	sessions := s.proxyCfg.Sessions
	if sessions == nil {
		s.log.Error("the proxy listener has no sessions (handlers.ProxyConfig.Sessions): it refuses every request")
		r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the service proxy is not configured", http.StatusInternalServerError)
		})
		return r
	}
	r.Group(func(r chi.Router) {
		r.Use(sessions.Middleware)
		r.Get(proxyAuthPath, s.proxyAuth)
		r.HandleFunc("/proxy/{execution}/{service}/{port}", func(w http.ResponseWriter, r *http.Request) {
			s.serveProxy(w, r, serviceOrigin, true)
		})
		r.HandleFunc("/proxy/{execution}/{service}/{port}/*", func(w http.ResponseWriter, r *http.Request) {
			s.serveProxy(w, r, serviceOrigin, false)
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	return r
}

// serveProxy checks who asks for what and forwards the request.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, from origin, slash bool) {
	u := currentUser(r)
	if u == nil {
		s.proxySignIn(w, r, from)
		return
	}
	k, ok := parseRoute(chi.URLParam(r, "execution"), chi.URLParam(r, "service"), chi.URLParam(r, "port"))
	if !ok || hasDotSegment(r.URL.Path) || hasDotSegment(r.URL.EscapedPath()) {
		proxyNotFound(w)
		return
	}
	t, err := s.proxyTarget(r.Context(), u, k)
	if err != nil {
		s.proxyProblem(w, r, err)
		return
	}
	if t.owner != u.ID && !s.px.handoff.acked(u.ID, t.execution, s.px.now()) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "confirm that you want to open another user's service first: open it from its execution page", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, s.portalURL(from)+proxyLoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if slash {
		to := t.prefix
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
		return
	}
	if !s.proxySameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	s.px.activity.touch(t.execution, s.px.now())
	s.px.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetCtxKey{}, t)))
}

// proxySameOrigin refuses WebSocket handshakes and unsafe requests that
// another site's page started: the browser sends the session cookie with
// them (from sites of the same registrable domain, and from anywhere for
// WebSockets in older browsers), and many services, Jupyter with
// allow_origin=* among them, do not check. Requests without Origin (not
// from a page's script or form) pass.
func (s *Server) proxySameOrigin(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		if r.Header.Get("Upgrade") == "" {
			return true
		}
	}
	from := r.Header.Get("Origin")
	if from == "" {
		return true
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, own := range []string{s.proxyCfg.BaseURL, s.proxyCfg.PortalURL} {
		if o, err := url.Parse(own); err == nil && o.Host != "" && strings.EqualFold(o.Host, u.Host) && strings.EqualFold(o.Scheme, u.Scheme) {
			return true
		}
	}
	return false
}

// portalURL is what paths of the portal are relative to for a request that
// came through from: nothing on the portal's own origin.
func (s *Server) portalURL(from origin) string {
	if from == serviceOrigin {
		return strings.TrimRight(s.proxyCfg.PortalURL, "/")
	}
	return ""
}

// proxySignIn answers visitors: browsers loading a page go to sign in and
// come back; anything else (scripts, uploads, WebSockets) gets 401.
func (s *Server) proxySignIn(w http.ResponseWriter, r *http.Request, from origin) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case get && from == portalOrigin:
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	case get && s.proxyCfg.PortalURL != "":
		http.Redirect(w, r, s.portalURL(from)+proxyLoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	default:
		w.Header().Set("WWW-Authenticate", `Cookie realm="zoe"`)
		http.Error(w, "sign in to Zoe and open this service from its execution page", http.StatusUnauthorized)
	}
}

func proxyNotFound(w http.ResponseWriter) {
	http.Error(w, "404 not found: no such service, or not yours", http.StatusNotFound)
}

func (s *Server) proxyProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		proxyNotFound(w)
	case store.IsUnavailable(err):
		http.Error(w, "the database is unavailable; try again in a moment", http.StatusServiceUnavailable)
	default:
		s.serverError(w, r, err)
	}
}

// proxyLogin is the portal's way into a service (GET and POST
// /proxy-login?next=/proxy/…): admins opening another user's service
// confirm first (the POST, CSRF-protected); then the browser goes to the
// service, through a ticket when services have their own origin.
func (s *Server) proxyLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.pageError(w, r, http.StatusMethodNotAllowed, "Open services from their execution page.")
		return
	}
	u := currentUser(r)
	k, next, ok := parseProxyPath(r.FormValue("next"))
	if !ok {
		s.pageError(w, r, http.StatusNotFound, "There is no service at this address.")
		return
	}
	t, err := s.proxyTarget(r.Context(), u, k)
	if errors.Is(err, ErrNotFound) {
		s.pageError(w, r, http.StatusNotFound, "This service does not exist, is not running, or is not yours.")
		return
	}
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	now := s.px.now()
	if t.owner != u.ID && !s.px.handoff.acked(u.ID, t.execution, now) {
		if r.Method != http.MethodPost {
			s.proxyWarning(w, r, t, next)
			return
		}
		s.px.handoff.ack(u.ID, t.execution, now)
	}
	if s.proxyCfg.BaseURL == "" {
		redirect(w, r, next)
		return
	}
	id := s.px.handoff.mint(u.ID, s.sessions.Handle(r), next, now)
	w.Header().Set("Referrer-Policy", "no-referrer")
	redirect(w, r, strings.TrimRight(s.proxyCfg.BaseURL, "/")+proxyAuthPath+"?ticket="+url.QueryEscape(id))
}

// proxyAuth takes a ticket on the proxy origin and opens a session there.
func (s *Server) proxyAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	t, ok := s.px.handoff.redeem(r.URL.Query().Get("ticket"), s.px.now())
	if !ok {
		msg := "This link has expired or was already used: open the service again from its execution page"
		if p := s.proxyCfg.PortalURL; p != "" {
			msg += " (" + p + ")"
		}
		http.Error(w, msg+".", http.StatusForbidden)
		return
	}
	u, err := s.store.UserByID(r.Context(), t.user)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.Enabled {
		http.Error(w, "this account cannot sign in", http.StatusForbidden)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.proxyCfg.Sessions.LoginUnder(w, r, u, t.parent); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, t.next, http.StatusSeeOther)
}

// proxyWarning asks an admin to confirm opening another user's service.
func (s *Server) proxyWarning(w http.ResponseWriter, r *http.Request, t *proxyTarget, next string) {
	p := s.page(r, "Open another user's service?")
	data := proxyWarningData{
		Service: t.service, Port: t.port, Execution: t.execution, Owner: t.ownerName,
		Next: next, CSRF: p.CSRFToken, Separate: s.proxyCfg.BaseURL != "",
		Back:   "/executions/" + strconv.FormatInt(t.execution, 10),
		Action: proxyLoginPath,
	}
	body := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		return s.px.warning.Execute(w, data)
	})
	page := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return views.Layout(p).Render(templ.WithChildren(ctx, body), w)
	})
	s.render(w, r, http.StatusOK, page, nil)
}

type proxyWarningData struct {
	Service   string
	Port      int
	Execution int64
	Owner     string
	Next      string
	CSRF      string
	Separate  bool
	Back      string
	Action    string
}

// proxyWarningPage is the body of the warning page. It is a template here
// rather than a view because it is the proxy's only page.
const proxyWarningPage = `
<article data-testid="proxy-warning">
	<h1>Open another user's service?</h1>
	<p>Service <strong>{{.Service}}</strong> (port {{.Port}}) of execution {{.Execution}} belongs to <strong>{{.Owner}}</strong>.
	Its pages run code that {{.Owner}} controls, in your browser.</p>
	{{if .Separate}}
	<p>Services are served from an address of their own, so they cannot act in Zoe on your behalf,
	but while this one is open it can reach the other services you open.</p>
	{{else}}
	<p>Services are served from the portal's own address: while it is open, this service can act in Zoe with your administrator rights.
	Open it only if you trust what it runs.</p>
	{{end}}
	<form method="post" action="{{.Action}}">
		<input type="hidden" name="csrf_token" value="{{.CSRF}}">
		<input type="hidden" name="next" value="{{.Next}}">
		<button type="submit" data-testid="proxy-confirm">Open it anyway</button>
		<a href="{{.Back}}" role="button" class="secondary">Back to the execution</a>
	</form>
</article>`
