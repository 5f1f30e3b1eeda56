package handlers

import (
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/static"
)

// Routes is Zoe's one route table: every URL, grouped by who may call it.
func (s *Server) Routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.requestLog, limitBodies)

	// Public: operations and assets.
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/metrics", s.metricsHandler)
	r.Handle("/static/*", http.StripPrefix("/static/", staticFiles()))
	r.Get("/api/v1/openapi.json", s.apiOpenAPI)

	// Services' web interfaces, for their owner and admins (proxy.go).
	// Sessions are read for the owner check; the portal's cookies and
	// Authorization headers never reach the service.
	r.Group(func(r chi.Router) {
		r.Use(s.sessions.Middleware)
		r.HandleFunc("/proxy/{execution}/{service}/{port}", s.proxySlash)
		r.HandleFunc("/proxy/{execution}/{service}/{port}/*", s.proxy)
		r.With(securityHeaders, cookiesOnly, s.sessions.RequireCSRF, s.signedIn).HandleFunc(proxyLoginPath, s.proxyLogin)
	})

	// Pages: a session, CSRF on every form, security headers.
	r.Group(func(r chi.Router) {
		r.Use(securityHeaders, cookiesOnly, s.sessions.Middleware, s.sessions.RequireCSRF)
		r.Get("/", s.home)
		r.Get("/login", s.loginForm)
		r.Post("/login", s.login)
		r.Post("/logout", s.logout)

		// Any signed-in user, guests included.
		r.Group(func(r chi.Router) {
			r.Use(s.signedIn)
			r.Get("/shop", s.shopPage)
			r.Get("/shop/{zapp}", s.zappPage)
			r.Get("/shop/{zapp}/logo", s.zappLogo)
			r.Post("/shop/{zapp}/check", s.zappCheck)
			r.Post("/shop/{zapp}/start", s.zappStart)
			r.Get("/executions", s.executionsPage)
			r.Get("/executions/{id}", s.executionPage)
			r.Get("/executions/{id}/status", s.executionStatus)
			r.Get("/executions/{id}/logs/{service}", s.serviceLogsPage)
			r.Post("/executions/{id}/terminate", s.executionTerminate)
			r.Post("/executions/{id}/extend", s.executionExtend)
			r.Post("/executions/{id}/delete", s.executionDelete)
			r.Get("/workspace", s.workspacePage)
			r.Get("/workspace/download", s.workspaceDownload)
			r.Post("/workspace/upload", s.workspaceUpload)
			r.Post("/workspace/mkdir", s.workspaceMkdir)
			r.Post("/workspace/delete", s.workspaceDelete)
			r.Get("/account", s.accountPage)
			r.Post("/account/password", s.accountPassword)

			// Users and admins: tuning, custom descriptions, API tokens.
			r.Group(func(r chi.Router) {
				r.Use(s.requirePage(auth.CustomizeResources))
				r.Post("/executions/{id}/restart", s.executionRestart)
				r.Post("/executions/custom", s.executionCustom)
			})
			r.Group(func(r chi.Router) {
				r.Use(s.requirePage(auth.AccessAPI))
				r.Post("/account/tokens", s.tokenCreate)
				r.Post("/account/tokens/{token}/delete", s.tokenDelete)
			})

			// Admins.
			r.With(s.requirePage(auth.OperateOthers)).Post("/executions/terminate", s.executionsTerminate)
			r.Group(func(r chi.Router) {
				r.Use(s.requirePage(auth.SeePlatform))
				r.Get("/admin/status", s.platformPage)
				r.Get("/admin/usage", s.usagePage)
			})
			r.Group(func(r chi.Router) {
				r.Use(s.requirePage(auth.ManageUsers))
				r.Get("/admin/users", s.usersPage)
				r.Post("/admin/users", s.userCreate)
				r.Get("/admin/users/{user}", s.userPage)
				r.Post("/admin/users/{user}", s.userUpdate)
				r.Post("/admin/users/{user}/delete", s.userDelete)
				r.Get("/admin/quotas", s.quotasPage)
				r.Post("/admin/quotas", s.quotaSave)
			})
		})
	})

	// JSON API: bearer token or HTTP Basic; guests are refused.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.apiAuth)
		r.Get("/info", s.apiInfo)
		r.Get("/shop", s.apiShop)
		r.Get("/shop/{zapp}", s.apiZApp)
		r.Post("/executions", s.apiExecutionCreate)
		r.Get("/executions", s.apiExecutions)
		r.Get("/executions/{id}", s.apiExecution)
		r.Post("/executions/{id}/terminate", s.apiExecutionTerminate)
		r.Post("/executions/{id}/extend", s.apiExecutionExtend)
		r.Post("/executions/{id}/restart", s.apiExecutionRestart)
		r.Delete("/executions/{id}", s.apiExecutionDelete)
		r.Get("/executions/{id}/services/{service}/logs", s.apiServiceLogs)
		r.Get("/scheduler", s.apiScheduler)
		r.Get("/me", s.apiMe)
		r.Get("/me/tokens", s.apiTokens)
		r.Post("/me/tokens", s.apiTokenCreate)
		r.Delete("/me/tokens/{token}", s.apiTokenDelete)
		r.Group(func(r chi.Router) {
			r.Use(s.requireAPI(auth.ManageUsers))
			r.Get("/users", s.apiUsers)
			r.Post("/users", s.apiUserCreate)
			r.Get("/users/{user}", s.apiUser)
			r.Patch("/users/{user}", s.apiUserUpdate)
			r.Delete("/users/{user}", s.apiUserDelete)
			r.Get("/quotas", s.apiQuotas)
			r.Post("/quotas", s.apiQuotaCreate)
			r.Patch("/quotas/{quota}", s.apiQuotaUpdate)
			r.Delete("/quotas/{quota}", s.apiQuotaDelete)
		})
		r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusNotFound, "not_found", "no such API endpoint", "")
		})
	})

	r.NotFound(s.notFound)
	return r
}

// MaxBody bounds request bodies, except workspace uploads (MaxUpload)
// and the proxy, whose services decide for themselves.
const MaxBody = 4 << 20

func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/proxy/"):
		case r.URL.Path == "/workspace/upload":
			r.Body = http.MaxBytesReader(w, r.Body, MaxUpload)
		default:
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

func staticFiles() http.Handler {
	files := http.FileServer(http.FS(static.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Vendored files change only with a new binary; a day is safe and
		// saves a round trip per page.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if _, err := fs.Stat(static.FS, r.URL.Path); err != nil || r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// cookiesOnly drops the Authorization header of page requests. Pages act
// for the session cookie's user, but RequireCSRF lets requests with that
// header through (for API clients): a browser that adds cached HTTP Basic
// credentials, or a page that gets one added, would skip the CSRF and
// Origin checks and act for the cookie's user.
func cookiesOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every page carries: no framing, no
// MIME sniffing, and a content security policy that allows only Zoe's own
// scripts and styles.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) requestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		// Checked first: building the arguments costs allocations on every
		// request, proxied ones included, even when nobody logs them.
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(), "bytes", ww.BytesWritten(), "duration", time.Since(start), "remote", r.RemoteAddr)
		}
		s.metrics.Inc("zoe_http_requests_total", "HTTP requests served, by status class.", "code", statusClass(ww.Status()))
	})
}

func statusClass(code int) string {
	if code == 0 {
		code = 200
	}
	return string(rune('0'+code/100)) + "xx"
}
