package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/lifecycle"
	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// The operations below are shared by the pages and the JSON API: neither
// re-implements them. Each checks who is asking.

// Sentinels of the operations; statusOf maps them to HTTP.
var (
	// ErrForbidden: the user is known but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such thing, or not the user's to see (the two are
	// not told apart, so IDs leak nothing).
	ErrNotFound = errors.New("not found")
	// ErrNotEnded: deleting the record of an execution that is active.
	ErrNotEnded = errors.New("execution has not ended")
)

// visibleExecution returns execution id if u may see it: its owner or an
// admin. Anyone else gets ErrNotFound, as for an unknown id.
func (s *Server) visibleExecution(ctx context.Context, u *store.User, id int64) (store.Execution, error) {
	e, err := s.store.Execution(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, err
	}
	if !mayOperate(u, e) {
		return store.Execution{}, ErrNotFound
	}
	return e, nil
}

// mayOperate reports whether u may see and operate execution e: its owner
// and admins.
func mayOperate(u *store.User, e store.Execution) bool {
	return e.UserID == u.ID || auth.UserCan(u, auth.OperateOthers)
}

// visibleZApp returns the shop ZApp id if u's role may see it.
func (s *Server) visibleZApp(u *store.User, id string) (*shop.ZApp, error) {
	z, ok := s.shop.Get(id)
	if !ok || !(auth.UserCan(u, auth.FullShop) || shop.Visible(z, u.Role)) {
		return nil, ErrNotFound
	}
	return z, nil
}

// LaunchRequest is a start from the shop: the form or the API.
type LaunchRequest struct {
	Name      string
	ZApp      string
	Params    map[string]string
	Resources map[string]shop.ServiceResources
}

// instantiate builds the description a launch would run. Guests and users
// without CustomizeResources get the ZApp as published: what they sent
// for parameters and resources is refused rather than silently dropped.
func (s *Server) instantiate(u *store.User, req LaunchRequest) (*shop.ZApp, *zapp.Description, error) {
	z, err := s.visibleZApp(u, req.ZApp)
	if err != nil {
		return nil, nil, err
	}
	sr := shop.Request{Limits: s.limits}
	if auth.UserCan(u, auth.CustomizeResources) {
		sr.Params, sr.Resources = req.Params, req.Resources
	} else if len(req.Params) > 0 || len(req.Resources) > 0 {
		return nil, nil, fmt.Errorf("%w: your role cannot change parameters or resources", ErrForbidden)
	}
	d, err := z.Instantiate(sr)
	if err != nil {
		return nil, nil, err
	}
	return z, d, nil
}

// launch starts a ZApp of the shop for u.
func (s *Server) launch(ctx context.Context, u *store.User, req LaunchRequest) (int64, error) {
	z, d, err := s.instantiate(u, req)
	if err != nil {
		return 0, err
	}
	name := req.Name
	if name == "" {
		name = z.Name
	}
	return s.lc.Submit(ctx, *u, zappRequest(z, lifecycle.Request{Name: name, Description: d}))
}

// launchDescription starts a description u wrote (JSON upload or API),
// validated with the rules for user descriptions: no host mounts.
func (s *Server) launchDescription(ctx context.Context, u *store.User, name string, raw []byte) (int64, error) {
	if !auth.UserCan(u, auth.CustomizeResources) {
		return 0, fmt.Errorf("%w: your role cannot submit custom descriptions", ErrForbidden)
	}
	d, err := zapp.Parse(raw, zapp.TrustUser)
	if err != nil {
		return 0, err
	}
	if err := checkLimits(d, s.limits); err != nil {
		return 0, err
	}
	if name == "" {
		name = d.Name
	}
	return s.lc.Submit(ctx, *u, lifecycle.Request{Name: name, Description: d})
}

// checkLimits refuses reservations above the site's per-instance ceilings.
func checkLimits(d *zapp.Description, l shop.Limits) error {
	var errs zapp.Errors
	for i, svc := range d.Services {
		if l.Memory > 0 && svc.Resources.Memory.Min > l.Memory {
			errs = append(errs, zapp.FieldError{Path: fmt.Sprintf("services[%d].resources.memory.min", i), Message: fmt.Sprintf("%s exceeds the site's limit of %s", svc.Resources.Memory.Min, l.Memory)})
		}
		if l.Cores > 0 && svc.Resources.Cores.Min > l.Cores {
			errs = append(errs, zapp.FieldError{Path: fmt.Sprintf("services[%d].resources.cores.min", i), Message: fmt.Sprintf("%s exceeds the site's limit of %s", svc.Resources.Cores.Min, l.Cores)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// terminate ends execution id on u's behalf.
func (s *Server) terminate(ctx context.Context, u *store.User, id int64, via string) error {
	if _, err := s.visibleExecution(ctx, u, id); err != nil {
		return err
	}
	return s.lc.Terminate(ctx, id, fmt.Sprintf("terminated by %s from the %s", u.Username, via))
}

// restart submits a new execution with the description of id.
func (s *Server) restart(ctx context.Context, u *store.User, id int64) (int64, error) {
	e, err := s.visibleExecution(ctx, u, id)
	if err != nil {
		return 0, err
	}
	if e.UserID != u.ID {
		return 0, fmt.Errorf("%w: only the owner can restart an execution", ErrForbidden)
	}
	var d zapp.Description
	if err := d.UnmarshalJSON(e.Description); err != nil {
		return 0, fmt.Errorf("restart %d: %w", id, err)
	}
	req := lifecycle.Request{Name: e.Name, ZappID: e.ZappID, Description: &d}
	if z, ok := s.shop.Get(e.ZappID); e.ZappID != "" && ok {
		req = zappRequest(z, req) // the ZApp's idle rules as they are now
	}
	return s.lc.Submit(ctx, *u, req)
}

// deleteExecution removes the record of an ended execution: admins any,
// users their own.
func (s *Server) deleteExecution(ctx context.Context, u *store.User, id int64) error {
	e, err := s.visibleExecution(ctx, u, id)
	if err != nil {
		return err
	}
	if e.UserID != u.ID && !auth.UserCan(u, auth.DeleteExecutions) {
		return ErrNotFound
	}
	err = s.store.DeleteExecution(ctx, id)
	if errors.Is(err, store.ErrConflict) {
		return ErrNotEnded
	}
	return err
}

// problem is how an operation's error reaches users: a status, a stable
// code, the field it concerns and a message they can act on.
type problem struct {
	Status  int
	Code    string
	Message string
	Fields  zapp.Errors
}

// problemOf classifies err. Unexpected errors are 500 with a generic
// message; the caller logs them.
func problemOf(err error) problem {
	var fe zapp.Errors
	var qe *auth.QuotaError
	switch {
	case errors.As(err, &fe):
		return problem{http.StatusUnprocessableEntity, "validation", fe.Error(), fe}
	case errors.As(err, &qe):
		return problem{http.StatusConflict, "quota", qe.Error(), nil}
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return problem{http.StatusNotFound, "not_found", "not found", nil}
	case errors.Is(err, ErrForbidden):
		return problem{http.StatusForbidden, "forbidden", err.Error(), nil}
	case errors.Is(err, lifecycle.ErrNotActive):
		return problem{http.StatusConflict, "not_active", "the execution is not active", nil}
	case errors.Is(err, lifecycle.ErrCannotExtend):
		return problem{http.StatusConflict, "cannot_extend", err.Error(), nil}
	case errors.Is(err, ErrNotEnded):
		return problem{http.StatusConflict, "not_ended", "only ended executions can be deleted; terminate it first", nil}
	case store.IsUnavailable(err):
		return problem{http.StatusServiceUnavailable, "unavailable", "the database is unavailable; try again in a moment", nil}
	}
	return problem{http.StatusInternalServerError, "internal", "internal server error", nil}
}
