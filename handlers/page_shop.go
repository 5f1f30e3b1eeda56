package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
	"github.com/zoe-analytics/zoe/zapp"
)

const mebibyte = 1 << 20

func (s *Server) shopPage(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	role := u.Role
	if auth.UserCan(u, auth.FullShop) {
		role = shop.RoleAdmin
	}
	var v views.ShopView
	for _, z := range s.shop.List(role) {
		if n := len(v.Categories); n == 0 || v.Categories[n-1].Name != z.Category {
			v.Categories = append(v.Categories, views.Category{Name: z.Category})
		}
		c := &v.Categories[len(v.Categories)-1]
		c.ZApps = append(c.ZApps, tile(z))
	}
	q, err := s.quotaUsage(r.Context(), u)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	v.Quota = q
	p := s.page(r, "Shop")
	p.Nav = "shop"
	s.render(w, r, http.StatusOK, views.ShopPage(p, v), nil)
}

func tile(z *shop.ZApp) views.ZAppTile {
	return views.ZAppTile{ID: z.ID, Name: z.Name, Category: z.Category, Summary: z.Summary, Logo: z.LogoFile != "", Guest: shop.Visible(z, shop.RoleGuest)}
}

func (s *Server) zappPage(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	z, err := s.visibleZApp(u, chi.URLParam(r, "zapp"))
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	form, err := s.startForm(r.Context(), u, z, nil, nil)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	_, d, ierr := s.instantiate(u, LaunchRequest{ZApp: z.ID})
	form.Fit = s.fit(r.Context(), u, d, ierr)
	s.renderZApp(w, r, http.StatusOK, z, form)
}

func (s *Server) renderZApp(w http.ResponseWriter, r *http.Request, status int, z *shop.ZApp, form views.StartForm) {
	v := views.ZAppView{ZApp: tile(z), Readme: z.ReadmeHTML, WillEnd: z.Description.WillEnd, Form: form}
	for _, svc := range z.Description.Services {
		info := views.ServiceInfo{
			Name: svc.Name, Image: svc.Image, Monitor: svc.Monitor,
			Essential: svc.EssentialCount, Elastic: svc.TotalCount - svc.EssentialCount,
			Memory: rangeText(views.Bytes(int64(svc.Resources.Memory.Min)), views.Bytes(int64(svc.Resources.Memory.Max)), svc.Resources.Memory.Max > 0),
			Cores:  rangeText(views.Cores(int64(svc.Resources.Cores.Min)), views.Cores(int64(svc.Resources.Cores.Max)), svc.Resources.Cores.Max > 0),
		}
		for _, p := range svc.Ports {
			info.Ports = append(info.Ports, fmt.Sprintf("%s (%d/%s)", p.Name, p.PortNumber, p.Protocol))
		}
		v.Services = append(v.Services, info)
		for _, vol := range svc.Volumes {
			v.Volumes = append(v.Volumes, views.VolumeInfo{Service: svc.Name, Name: vol.Name, Path: vol.Path, ReadOnly: vol.ReadOnly})
		}
	}
	p := s.page(r, z.Name)
	p.Nav = "shop"
	s.render(w, r, status, views.ZAppPage(p, v), nil)
}

func rangeText(lo, hi string, hasMax bool) string {
	if !hasMax || lo == hi {
		return lo
	}
	return lo + ", up to " + hi
}

func (s *Server) zappLogo(w http.ResponseWriter, r *http.Request) {
	z, err := s.visibleZApp(currentUser(r), chi.URLParam(r, "zapp"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	path, err := s.shop.Logo(z.ID)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", shop.LogoType(path))
	h.Set("Cache-Control", "private, max-age=300")
	// An SVG opened on its own is a document: forbid its scripts.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// zappCheck answers the start form's "will it start now?" box. Without
// HTMX (the form's check button) it renders the whole page.
func (s *Server) zappCheck(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	z, err := s.visibleZApp(u, chi.URLParam(r, "zapp"))
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	req, perrs := parseStartForm(r, z)
	var fit views.Fit
	if len(perrs) > 0 {
		fit = views.Fit{State: "refused", Headline: "Fix the form first", Reasons: errorList(perrs)}
	} else {
		_, d, ierr := s.instantiate(u, req)
		fit = s.fit(r.Context(), u, d, ierr)
	}
	if isHTMX(r) {
		s.render(w, r, http.StatusOK, views.FitBox(fit), nil)
		return
	}
	form, err := s.startForm(r.Context(), u, z, r.PostForm, perrs)
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	form.Fit = fit
	s.renderZApp(w, r, http.StatusOK, z, form)
}

func (s *Server) zappStart(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	z, err := s.visibleZApp(u, chi.URLParam(r, "zapp"))
	if err != nil {
		s.pageProblem(w, r, err)
		return
	}
	req, errs := parseStartForm(r, z)
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		id, err := s.launch(r.Context(), u, req)
		if err == nil {
			redirect(w, r, fmt.Sprintf("/executions/%d", id))
			return
		}
		p := problemOf(err)
		if p.Status == http.StatusInternalServerError || p.Status == http.StatusServiceUnavailable || p.Status == http.StatusNotFound {
			s.pageProblem(w, r, err)
			return
		}
		status = p.Status
		errs = s.formErrors(z, err)
	}
	form, ferr := s.startForm(r.Context(), u, z, r.PostForm, errs)
	if ferr != nil {
		s.pageProblem(w, r, ferr)
		return
	}
	_, d, ierr := s.instantiate(u, req)
	form.Fit = s.fit(r.Context(), u, d, ierr)
	if isHTMX(r) {
		// The form posts without HTMX; should a script submit it anyway,
		// it gets the whole page back.
		w.Header().Set("HX-Retarget", "body")
	}
	s.renderZApp(w, r, status, z, form)
}

// parseStartForm reads the start form. Parameters and resources are taken
// as sent, whoever sent them: instantiate refuses them for roles that may
// not tune, rather than dropping them silently. Values that are not
// numbers are field errors.
func parseStartForm(r *http.Request, z *shop.ZApp) (LaunchRequest, views.FieldErrors) {
	req := LaunchRequest{ZApp: z.ID, Name: strings.TrimSpace(r.PostFormValue("name"))}
	errs := views.FieldErrors{}
	for key, vals := range r.PostForm {
		if len(vals) == 0 {
			continue
		}
		val := strings.TrimSpace(vals[0])
		switch {
		case strings.HasPrefix(key, "params."):
			if req.Params == nil {
				req.Params = map[string]string{}
			}
			req.Params[strings.TrimPrefix(key, "params.")] = val
		case strings.HasPrefix(key, "resources."):
			svc, what, ok := strings.Cut(strings.TrimPrefix(key, "resources."), ".")
			if !ok || (what != "memory" && what != "cores") {
				errs[""] = "unknown field " + key
				continue
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				errs[key] = "must be a whole number"
				continue
			}
			// Memory is in MiB: a number this large would wrap around
			// when converted to bytes and reserve something else.
			if what == "memory" && n > math.MaxInt64/mebibyte {
				errs[key] = "is too large"
				continue
			}
			if req.Resources == nil {
				req.Resources = map[string]shop.ServiceResources{}
			}
			res := req.Resources[svc]
			if what == "memory" {
				res.Memory = zapp.Bytes(n * mebibyte)
			} else {
				res.MilliCores = zapp.MilliCores(n)
			}
			req.Resources[svc] = res
		}
	}
	if len(errs) == 0 {
		errs = nil
	}
	return req, errs
}

// formErrors places an operation's refusal beside the fields it concerns.
func (s *Server) formErrors(z *shop.ZApp, err error) views.FieldErrors {
	errs := views.FieldErrors{}
	var fe zapp.Errors
	var qe *auth.QuotaError
	switch {
	case errors.As(err, &fe):
		for _, f := range fe {
			key := f.Path
			if _, taken := errs[key]; taken {
				errs[key] += "; " + f.Message
			} else {
				errs[key] = f.Message
			}
		}
	case errors.As(err, &qe):
		msg := "Over your quota: " + qe.Error() + "."
		switch qe.Quota {
		case auth.QuotaMemory:
			for _, svc := range z.Description.Services {
				errs["resources."+svc.Name+".memory"] = msg
			}
		case auth.QuotaCores:
			for _, svc := range z.Description.Services {
				errs["resources."+svc.Name+".cores"] = msg
			}
		}
		errs[""] = msg
	default:
		errs[""] = problemOf(err).Message
	}
	return errs
}

func errorList(errs views.FieldErrors) []string {
	var out []string
	for k, v := range errs {
		if k == "" {
			out = append(out, v)
		} else {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// fit is the "will it start now?" answer for description d, or for the
// error that kept it from being built.
func (s *Server) fit(ctx context.Context, u *store.User, d *zapp.Description, err error) views.Fit {
	if err != nil {
		var fe zapp.Errors
		if errors.As(err, &fe) {
			f := views.Fit{State: "refused", Headline: "Fix the form first"}
			for _, e := range fe {
				f.Reasons = append(f.Reasons, e.Message)
			}
			return f
		}
		if errors.Is(err, ErrForbidden) {
			return views.Fit{State: "refused", Headline: "Not allowed", Reasons: []string{strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": ")}}
		}
		s.log.Error("start form check", "err", err)
		return views.Fit{State: "unknown", Headline: "Zoe cannot tell right now whether it would start."}
	}
	q, usage, err := s.quotaOf(ctx, u)
	if err != nil {
		s.log.Error("start form check", "err", err)
		return views.Fit{State: "unknown", Headline: "Zoe cannot tell right now whether it would start."}
	}
	var req auth.Request
	for _, in := range d.Instances() {
		req.Memory += int64(in.Service.Resources.Memory.Min)
		req.MilliCores += int64(in.Service.Resources.Cores.Min)
	}
	need := "It reserves " + views.Bytes(req.Memory) + " and " + views.Cores(req.MilliCores) + "."
	if err := auth.CheckQuota(q, usage, req); err != nil {
		return views.Fit{State: "refused", Headline: "Over your quota", Reasons: []string{err.Error(), need}}
	}
	if s.lc == nil {
		return views.Fit{State: "unknown", Headline: "Zoe cannot tell right now whether it would start."}
	}
	fits, why, err := s.lc.Preview(ctx, d)
	if err != nil {
		s.log.Error("start form preview", "err", err)
		return views.Fit{State: "unknown", Headline: "Zoe cannot tell right now whether it would start."}
	}
	if fits {
		return views.Fit{State: "fits", Headline: "Fits now: it would start right away.", Reasons: []string{need}}
	}
	f := views.Fit{State: "waits", Headline: "Would wait: " + why.Reason, Reasons: []string{need}}
	for _, h := range why.Hosts {
		f.Reasons = append(f.Reasons, h.String())
	}
	return f
}

// quotaOf returns the quota that applies to u and what u holds now.
func (s *Server) quotaOf(ctx context.Context, u *store.User) (store.Quota, store.Usage, error) {
	q, err := s.store.QuotaForUser(ctx, u.ID)
	if err != nil {
		return q, store.Usage{}, fmt.Errorf("quota of %s: %w", u.Username, err)
	}
	usage, err := s.store.UsageByUser(ctx, u.ID)
	if err != nil {
		return q, usage, fmt.Errorf("usage of %s: %w", u.Username, err)
	}
	return auth.EffectiveQuota(auth.Role(u.Role), q), usage, nil
}

func (s *Server) quotaUsage(ctx context.Context, u *store.User) (views.QuotaUsage, error) {
	q, usage, err := s.quotaOf(ctx, u)
	if err != nil {
		return views.QuotaUsage{}, err
	}
	return usageView(q, usage, u.Role == string(auth.RoleGuest)), nil
}

func usageView(q store.Quota, usage store.Usage, guest bool) views.QuotaUsage {
	v := views.QuotaUsage{
		Name: q.Name, Executions: usage.Executions, ExecutionsLimit: q.ConcurrentExecutions,
		Memory: usage.Memory, MemoryLimit: q.Memory, MilliCores: usage.MilliCores, MilliCoresLimit: q.MilliCores,
		RuntimeLimit: q.RuntimeLimit, GuestExecutions: guest,
	}
	if q.Memory > 0 {
		v.MemoryRemaining = max(q.Memory-usage.Memory, 0)
	}
	if q.MilliCores > 0 {
		v.CoresRemaining = max(q.MilliCores-usage.MilliCores, 0)
	}
	if q.ConcurrentExecutions > 0 {
		v.ExecutionsRemain = max(q.ConcurrentExecutions-usage.Executions, 0)
	}
	return v
}

// startForm builds the start form of z for u: the defaults when values is
// nil, otherwise what the user sent, with errs beside the fields.
func (s *Server) startForm(ctx context.Context, u *store.User, z *shop.ZApp, values url.Values, errs views.FieldErrors) (views.StartForm, error) {
	quota, err := s.quotaUsage(ctx, u)
	if err != nil {
		return views.StartForm{}, err
	}
	f := views.StartForm{ZAppID: z.ID, CanTune: auth.UserCan(u, auth.CustomizeResources), Quota: quota, Errors: errs}
	if f.Errors == nil {
		f.Errors = views.FieldErrors{}
	}
	sent := func(key, def string) string {
		if values != nil {
			if v, ok := values[key]; ok && len(v) > 0 {
				return v[0]
			}
		}
		return def
	}
	f.Name = sent("name", "")
	if !f.CanTune {
		for _, svc := range z.Description.Services {
			f.Defaults = append(f.Defaults, fmt.Sprintf("%s: %s and %s", svc.Name, views.Bytes(int64(svc.Resources.Memory.Min)), views.Cores(int64(svc.Resources.Cores.Min))))
		}
		return f, nil
	}
	for _, p := range z.Parameters {
		key := p.Key()
		pf := views.ParamField{Key: key, Label: p.ReadableName, Help: p.Description, Integer: p.Integer(), Error: f.Errors["params."+key]}
		if pf.Label == "" {
			pf.Label = p.Name
		}
		def := p.DefaultValue()
		if pf.Integer {
			pf.Min, pf.Max, pf.Step = p.Min, p.Max, max(p.Step, 1)
			if def == "" {
				def = strconv.FormatInt(p.Min, 10)
			}
			pf.Value = sent("params."+key, def)
			if _, err := strconv.ParseInt(pf.Value, 10, 64); err != nil {
				pf.Value = def
			}
		} else {
			pf.Value = sent("params."+key, def)
		}
		f.Params = append(f.Params, pf)
	}
	biggestMem, biggestCores := s.biggestHost()
	for _, svc := range z.Description.Services {
		f.Resources = append(f.Resources, s.resourceField(svc, quota, biggestMem, biggestCores, sent, f.Errors))
	}
	return f, nil
}

// resourceField builds the sliders of one service. The memory slider moves
// in MiB and the cores slider in milli-cores, by a step that reaches the
// description's own value exactly; both stop at the description's max, or
// the site's limit, or the largest host when neither says.
func (s *Server) resourceField(svc zapp.Service, quota views.QuotaUsage, hostMem, hostCores int64, sent func(string, string) string, errs views.FieldErrors) views.ResourceField {
	rf := views.ResourceField{
		Service: svc.Name, Instances: svc.TotalCount,
		MemoryField: "resources." + svc.Name + ".memory", CoresField: "resources." + svc.Name + ".cores",
		MemoryOutput: "mem-" + svc.Name, CoresOutput: "cores-" + svc.Name,
	}
	rf.MemoryError = errs[rf.MemoryField]
	rf.CoresError = errs[rf.CoresField]

	defMem := (int64(svc.Resources.Memory.Min) + mebibyte - 1) / mebibyte
	maxMem := int64(svc.Resources.Memory.Max)
	if maxMem == 0 {
		maxMem = int64(s.limits.Memory)
	}
	if maxMem == 0 {
		maxMem = hostMem
	}
	if maxMem == 0 {
		maxMem = max(8*1024*mebibyte, 4*defMem*mebibyte)
	}
	rf.MemoryMax = max(maxMem/mebibyte, defMem)
	rf.MemoryStep = sliderStep(defMem, rf.MemoryMax, []int64{512, 256, 128, 64, 32, 16, 8, 4, 2, 1}, 32)
	if defMem > 0 {
		rf.MemoryMin = rf.MemoryStep
	}
	rf.MemoryMax -= (rf.MemoryMax - rf.MemoryMin) % rf.MemoryStep
	rf.MemoryMiB = sentInt(sent(rf.MemoryField, ""), defMem)

	defCores := int64(svc.Resources.Cores.Min)
	maxCores := int64(svc.Resources.Cores.Max)
	if maxCores == 0 {
		maxCores = int64(s.limits.Cores)
	}
	if maxCores == 0 {
		maxCores = hostCores
	}
	if maxCores == 0 {
		maxCores = max(8000, 4*defCores)
	}
	rf.CoresMax = max(maxCores, defCores)
	rf.CoresStep = sliderStep(defCores, rf.CoresMax, []int64{1000, 500, 250, 100, 50, 10, 1}, 16)
	if defCores > 0 {
		rf.CoresMin = rf.CoresStep
	}
	rf.CoresMax -= (rf.CoresMax - rf.CoresMin) % rf.CoresStep
	rf.MilliCores = sentInt(sent(rf.CoresField, ""), defCores)

	if svc.Resources.Memory.Max > 0 {
		rf.MemoryLimit = views.Bytes(int64(svc.Resources.Memory.Max))
	} else {
		rf.MemoryLimit = "the memory left on its host"
	}
	if svc.Resources.Cores.Max > 0 {
		rf.CoresLimit = views.Cores(int64(svc.Resources.Cores.Max))
	} else {
		rf.CoresLimit = "the cores left on its host"
	}
	n := int64(max(svc.TotalCount, 1))
	if quota.MemoryLimit > 0 {
		rf.MemoryQuotaMark = max(quota.MemoryRemaining/n/mebibyte, 0)
	}
	if quota.MilliCoresLimit > 0 {
		rf.MilliCoresQuotaMark = max(quota.CoresRemaining/n, 0)
	}
	return rf
}

// sliderStep is the largest candidate step that divides def (so the
// default is reachable) and still gives at least positions stops up to max.
func sliderStep(def, maxV int64, candidates []int64, positions int64) int64 {
	for _, c := range candidates {
		if def%c == 0 && maxV/c >= positions {
			return c
		}
	}
	return 1
}

func sentInt(v string, def int64) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return def
	}
	return n
}

// biggestHost is the memory and cores of the largest online host: nothing
// bigger could ever be placed.
func (s *Server) biggestHost() (mem, milli int64) {
	if s.lc == nil {
		return 0, 0
	}
	for _, h := range s.lc.Hosts() {
		if h.Online {
			mem = max(mem, h.Memory)
			milli = max(milli, h.MilliCores)
		}
	}
	return mem, milli
}
