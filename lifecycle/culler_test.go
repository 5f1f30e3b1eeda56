package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// quietProxy is a proxy that saw no request since the executions started,
// and reaches every service at addr.
type quietProxy struct{ addr string }

func (p quietProxy) LastUse(active []store.Execution) map[int64]Use {
	uses := map[int64]Use{}
	for _, e := range active {
		uses[e.ID] = Use{Web: true}
	}
	return uses
}

func (p quietProxy) ServiceAddr(context.Context, int64, string, int) (string, error) {
	return p.addr, nil
}

// jupyter answers like Jupyter's /api/kernels, busy or not.
type jupyter struct {
	mu   sync.Mutex
	busy bool
	hits int
}

func (j *jupyter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.hits++
	state := "idle"
	if j.busy {
		state = "busy"
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`[{"id": "k", "execution_state": "` + state + `", "last_activity": "2020-01-01T00:00:00Z"}]`))
}

func (j *jupyter) set(busy bool) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.busy = busy
	return j.hits
}

func (e *env) user(name, role string) store.User {
	e.t.Helper()
	u := store.User{Username: name, Role: role, Source: "builtin", Enabled: true}
	if err := auth.CreateUser(context.Background(), e.st, &u, "secret-password"); err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.UserByName(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) submitAs(owner store.User, req Request) int64 {
	e.t.Helper()
	if req.Description == nil {
		req.Description = description(req.Name, svc{name: "app", cmd: "sleep 600"})
	}
	id, err := e.m.Submit(context.Background(), owner, req)
	if err != nil {
		e.t.Fatalf("submit %s: %v", req.Name, err)
	}
	return id
}

// TestCullerPerRoleAndZApp culls with the role's and the ZApp's idle
// timeouts, an hour after the executions started, and spares the one whose
// activity URL reports a busy kernel until it reports none.
func TestCullerPerRoleAndZApp(t *testing.T) {
	var later atomic.Int64 // how far the manager's clock is ahead
	e := newEnvConfig(t, func(c *Config) {
		c.Idle = IdleTimeouts{Guest: 10 * time.Minute, User: 0, Admin: 20 * time.Minute}
		c.Now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	})
	guest, admin := e.user("gina", "guest"), e.user("ada", "admin")
	nb := &jupyter{busy: true}
	srv := httptest.NewServer(nb)
	defer srv.Close()
	kernels := []zapp.ActivityURL{{Service: "app", Port: 8888, Path: "{proxy_path}api/kernels"}}

	ids := map[string]int64{
		"user, role never":          e.submitAs(e.owner, Request{Name: "never"}),
		"user, zapp 30m":            e.submitAs(e.owner, Request{Name: "zapp", IdleTimeout: 30 * time.Minute}),
		"guest, role 10m":           e.submitAs(guest, Request{Name: "guest", IdleTimeout: 3 * time.Hour}),
		"admin, role 20m":           e.submitAs(admin, Request{Name: "admin"}),
		"user, zapp 30m, busy":      e.submitAs(e.owner, Request{Name: "busy", IdleTimeout: 30 * time.Minute, Activity: kernels}),
		"admin, role 20m, zapp 15m": e.submitAs(admin, Request{Name: "admin-zapp", IdleTimeout: 15 * time.Minute}),
	}
	recorded := map[string]time.Duration{
		"user, role never": 0, "user, zapp 30m": 30 * time.Minute, "guest, role 10m": 10 * time.Minute,
		"admin, role 20m": 20 * time.Minute, "user, zapp 30m, busy": 30 * time.Minute, "admin, role 20m, zapp 15m": 15 * time.Minute,
	}
	for name, id := range ids {
		x := e.waitStatus(id, store.StatusRunning)
		if x.IdleTimeout == nil || *x.IdleTimeout != recorded[name] {
			t.Errorf("%s: recorded idle timeout %v, want %s", name, x.IdleTimeout, recorded[name])
		}
	}

	c := NewCuller(e.m, quietProxy{addr: srv.Listener.Addr().String()}, time.Hour)
	defer c.Stop()
	later.Store(int64(time.Hour))
	if err := c.runOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, reason := range map[string]string{
		"user, zapp 30m": "idle for 30m0s: no request reached its web interface", "guest, role 10m": "idle for 10m0s",
		"admin, role 20m": "idle for 20m0s", "admin, role 20m, zapp 15m": "idle for 15m0s",
	} {
		x := e.waitStatus(ids[name], store.StatusTerminated)
		if !strings.HasPrefix(x.ErrorMessage, reason) {
			t.Errorf("%s: got reason %q, want %q", name, x.ErrorMessage, reason)
		}
	}
	for _, name := range []string{"user, role never", "user, zapp 30m, busy"} {
		x, err := e.st.Execution(context.Background(), ids[name])
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != store.StatusRunning {
			t.Errorf("%s: got status %s (%s), want it running", name, x.Status, x.ErrorMessage)
		}
	}
	busy, err := e.st.Execution(context.Background(), ids["user, zapp 30m, busy"])
	if err != nil {
		t.Fatal(err)
	}
	if busy.LastActiveAt == nil || busy.LastActiveAt.Before(busy.StartedAt.Add(time.Hour-time.Minute)) {
		t.Errorf("got last activity %v, want the busy kernel recorded about an hour after the start %v", busy.LastActiveAt, busy.StartedAt)
	}

	// The kernel finished: an hour later nothing keeps it.
	if hits := nb.set(false); hits == 0 {
		t.Fatal("the culler never asked the activity URL")
	}
	later.Store(int64(2 * time.Hour))
	if err := c.runOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	x := e.waitStatus(ids["user, zapp 30m, busy"], store.StatusTerminated)
	if want := "idle for 30m0s: no request reached its web interface and its services reported no activity"; x.ErrorMessage != want {
		t.Errorf("got reason %q, want %q", x.ErrorMessage, want)
	}
}

// TestExtendAndRuntimeLimit resets idle deadlines within the run-time
// limit, refuses to push the limit itself, and ends executions at it.
func TestExtendAndRuntimeLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q := store.Quota{Name: "hour", RuntimeLimit: time.Hour}
	if _, err := e.st.CreateQuota(ctx, &q); err != nil {
		t.Fatal(err)
	}
	e.owner.QuotaID = &q.ID
	if err := e.st.UpdateUser(ctx, e.owner); err != nil {
		t.Fatal(err)
	}
	short := e.submitAs(e.owner, Request{Name: "short", IdleTimeout: 10 * time.Minute})
	long := e.submitAs(e.owner, Request{Name: "long", IdleTimeout: 2 * time.Hour})
	never := e.submitAs(e.owner, Request{Name: "never"})
	web := Use{Web: true}

	x := e.waitStatus(short, store.StatusRunning)
	before, ok, err := e.m.StopsAt(ctx, x, web)
	if err != nil || !ok || before.Reason != StopIdle || !before.At.Equal(x.StartedAt.Add(10*time.Minute)) {
		t.Fatalf("got stop %+v %v %v, want idle 10 min after the start %v", before, ok, err, x.StartedAt)
	}
	after, err := e.m.Extend(ctx, x, web)
	if err != nil {
		t.Fatal(err)
	}
	if after.Reason != StopIdle || !after.At.After(before.At) {
		t.Errorf("got stop %+v after extending, want a later idle stop than %v", after, before.At)
	}
	if x, _ = e.st.Execution(ctx, short); x.LastActiveAt == nil {
		t.Error("got no recorded extension")
	}

	for _, tt := range []struct {
		id   int64
		want string
	}{
		{long, "the run-time limit of 1h0m0s stops it first"},
		{never, "it is never stopped for being idle"},
	} {
		x := e.waitStatus(tt.id, store.StatusRunning)
		if _, err := e.m.Extend(ctx, x, web); !errors.Is(err, ErrCannotExtend) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("extending %s: got %v, want %q", x.Name, err, tt.want)
		}
	}

	// The run-time limit is enforced from the start.
	q.RuntimeLimit = time.Second
	if err := e.st.UpdateQuota(ctx, q); err != nil {
		t.Fatal(err)
	}
	x = e.waitStatus(never, store.StatusTerminated)
	if x.ErrorMessage != "run-time limit of 1s reached" {
		t.Errorf("got reason %q, want the run-time limit", x.ErrorMessage)
	}
	if _, err := e.m.Extend(ctx, x, web); !errors.Is(err, ErrNotActive) {
		t.Errorf("extending an ended execution: got %v, want ErrNotActive", err)
	}
}
