package handlers

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

func TestUsagePerUser(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2024, 3, d, h, 0, 0, 0, time.UTC) }
	at := func(d, h int) *time.Time { x := day(d, h); return &x }
	from, to := day(10, 0), day(20, 0)
	now := day(25, 0)
	const gib = 1 << 30
	exec := func(user int64, name string, milli, mem int64, status string, start, end *time.Time) store.Execution {
		return store.Execution{UserID: user, Username: name, MilliCores: milli, Memory: mem, Status: status, StartedAt: start, EndedAt: end, UpdatedAt: day(1, 0)}
	}
	tests := []struct {
		name  string
		execs []store.Execution
		now   time.Time
		rows  []views.UsageRow
		total views.UsageRow
	}{
		{name: "nothing", rows: []views.UsageRow{}},
		{
			name:  "inside the period: cores and GiB times hours",
			execs: []store.Execution{exec(1, "alice", 2000, 4*gib, store.StatusTerminated, at(11, 0), at(11, 10))},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 20, GiBHours: 40, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 20, GiBHours: 40, Share: 100},
		},
		{
			name:  "started before the period: only the part inside counts",
			execs: []store.Execution{exec(1, "alice", 1000, gib, store.StatusTerminated, at(9, 12), at(10, 6))},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 6, GiBHours: 6, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 6, GiBHours: 6, Share: 100},
		},
		{
			name:  "ended after the period: cut at its end",
			execs: []store.Execution{exec(1, "alice", 500, gib/2, store.StatusTerminated, at(19, 20), at(21, 0))},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 2, GiBHours: 2, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 2, GiBHours: 2, Share: 100},
		},
		{
			name:  "spans the whole period",
			execs: []store.Execution{exec(1, "alice", 1000, gib, store.StatusTerminated, at(1, 0), at(22, 0))},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 240, GiBHours: 240, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 240, GiBHours: 240, Share: 100},
		},
		{
			name:  "still running: counted up to now",
			execs: []store.Execution{exec(1, "alice", 1000, gib, store.StatusRunning, at(19, 0), nil)},
			now:   day(19, 12),
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 12, GiBHours: 12, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 12, GiBHours: 12, Share: 100},
		},
		{
			name:  "still running past the period: cut at its end",
			execs: []store.Execution{exec(1, "alice", 1000, gib, store.StatusRunning, at(19, 0), nil)},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 24, GiBHours: 24, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 24, GiBHours: 24, Share: 100},
		},
		{
			name: "outside the period, never started, or ended at its start: left out",
			execs: []store.Execution{
				exec(1, "alice", 1000, gib, store.StatusTerminated, at(1, 0), at(2, 0)),
				exec(1, "alice", 1000, gib, store.StatusTerminated, at(20, 0), at(21, 0)),
				exec(1, "alice", 1000, gib, store.StatusError, nil, at(12, 0)),
				exec(1, "alice", 1000, gib, store.StatusTerminated, at(9, 0), at(10, 0)),
			},
			rows: []views.UsageRow{},
		},
		{
			name:  "started and failed at once inside the period: counted, no hours",
			execs: []store.Execution{exec(1, "alice", 1000, gib, store.StatusError, at(12, 0), at(12, 0))},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1}},
			total: views.UsageRow{Executions: 1},
		},
		{
			name:  "ended without an end time: its last update ends it",
			execs: []store.Execution{{UserID: 1, Username: "alice", MilliCores: 1000, Memory: gib, Status: store.StatusError, StartedAt: at(12, 0), UpdatedAt: day(12, 3)}},
			rows:  []views.UsageRow{{UserID: 1, Username: "alice", Executions: 1, CoreHours: 3, GiBHours: 3, Share: 100}},
			total: views.UsageRow{Executions: 1, CoreHours: 3, GiBHours: 3, Share: 100},
		},
		{
			name: "per user, most core-hours first, ties by name",
			execs: []store.Execution{
				exec(1, "alice", 1000, gib, store.StatusTerminated, at(11, 0), at(11, 1)),
				exec(2, "bob", 4000, gib, store.StatusTerminated, at(11, 0), at(11, 2)),
				exec(1, "alice", 1000, 8*gib, store.StatusTerminated, at(12, 0), at(12, 1)),
				exec(3, "carol", 1000, gib, store.StatusTerminated, at(11, 0), at(11, 2)),
				exec(4, "ann", 1000, gib, store.StatusTerminated, at(11, 0), at(11, 2)),
			},
			rows: []views.UsageRow{
				{UserID: 2, Username: "bob", Executions: 1, CoreHours: 8, GiBHours: 2, Share: 57},
				{UserID: 1, Username: "alice", Executions: 2, CoreHours: 2, GiBHours: 9, Share: 14},
				{UserID: 4, Username: "ann", Executions: 1, CoreHours: 2, GiBHours: 2, Share: 14},
				{UserID: 3, Username: "carol", Executions: 1, CoreHours: 2, GiBHours: 2, Share: 14},
			},
			total: views.UsageRow{Executions: 5, CoreHours: 14, GiBHours: 15, Share: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := now
			if !tt.now.IsZero() {
				n = tt.now
			}
			rows, total := usagePerUser(tt.execs, from, to, n)
			if diff := cmp.Diff(tt.rows, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.total, total); diff != "" {
				t.Errorf("total (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUsagePeriod(t *testing.T) {
	now := time.Date(2024, 3, 15, 13, 30, 0, 0, time.UTC)
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name, from, to string
		days           int
		start, end     time.Time
		errs           views.FieldErrors
	}{
		{name: "default: the last 30 days up to today", days: 30, start: d(2024, 2, 15), end: d(2024, 3, 16), errs: views.FieldErrors{}},
		{name: "one day", from: "2024-03-01", to: "2024-03-01", days: 1, start: d(2024, 3, 1), end: d(2024, 3, 2), errs: views.FieldErrors{}},
		{name: "a month", from: "2024-02-01", to: "2024-02-29", days: 29, start: d(2024, 2, 1), end: d(2024, 3, 1), errs: views.FieldErrors{}},
		{name: "only from: up to today", from: "2024-03-10", days: 6, start: d(2024, 3, 10), end: d(2024, 3, 16), errs: views.FieldErrors{}},
		{name: "end before start", from: "2024-03-10", to: "2024-03-09", errs: views.FieldErrors{"to": "The end must not come before the start."}},
		{name: "not a date", from: "yesterday", to: "2024-13-01", errs: views.FieldErrors{"from": "Give a date as YYYY-MM-DD.", "to": "Give a date as YYYY-MM-DD."}},
		{name: "centuries", from: "0001-01-01", to: "9999-12-31", errs: views.FieldErrors{"from": "Choose a period of at most ten years."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, start, end := usagePeriod(tt.from, tt.to, now)
			if diff := cmp.Diff(tt.errs, v.Errors); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if len(tt.errs) > 0 {
				return
			}
			if v.Days != tt.days || !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("got %d days [%s, %s), want %d days [%s, %s)", v.Days, start, end, tt.days, tt.start, tt.end)
			}
		})
	}
}

func TestBulkMessage(t *testing.T) {
	tests := []struct {
		query, want string
	}{
		{"", ""},
		{"done=terminated", ""},
		{bulkResult{terminated: 3, inactive: 1}.query(), "3 terminated, 1 was not active."},
		{bulkResult{terminated: 1, inactive: 2, missing: 1, failed: 1}.query(), "1 terminated, 2 were not active, 1 was not found, 1 could not be terminated (see the server log)."},
		{bulkResult{missing: 2}.query(), "0 terminated, 2 were not found."},
		{"terminated=1&inactive=x&missing=0&failed=0", ""},
		{"terminated=-1&inactive=0&missing=0&failed=0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := bulkMessage(q); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPortalUsage checks the usage page against executions recorded with
// known times.
func TestPortalUsage(t *testing.T) {
	e := newPortalEnv(t)
	ctx := context.Background()
	at := func(d, h int) *time.Time { x := time.Date(2024, 3, d, h, 0, 0, 0, time.UTC); return &x }
	for _, x := range []struct {
		user       string
		milli, mem int64
		start, end *time.Time
	}{
		{"alice", 2000, 4 << 30, at(11, 0), at(11, 10)}, // 20 core-hours, 40 GiB-hours
		{"alice", 1000, 1 << 30, at(9, 12), at(10, 6)},  // 6 inside
		{"bob", 4000, 1 << 29, at(12, 0), at(13, 0)},    // 96 core-hours, 12 GiB-hours
		{"bob", 4000, 1 << 30, at(1, 0), at(2, 0)},      // before the period
		{"gus", 1000, 1 << 30, nil, at(12, 0)},          // never started
	} {
		u := e.users[x.user]
		if _, err := e.st.CreateExecution(ctx, &store.Execution{Name: "past", UserID: u.ID, Status: store.StatusTerminated, MilliCores: x.milli, Memory: x.mem, StartedAt: x.start, EndedAt: x.end}, nil); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.signIn("admin")

	t.Run("per user and in all", func(t *testing.T) {
		p := admin.get("/admin/usage?from=2024-03-10&to=2024-03-19")
		if p.status != http.StatusOK {
			t.Fatalf("got %d, want 200", p.status)
		}
		type row struct{ User, Executions, CoreHours, GiBHours string }
		var got []row
		p.doc.Find("[data-testid=usage-row], [data-testid=usage-total]").Each(func(_ int, s *goquery.Selection) {
			got = append(got, row{s.AttrOr("data-user", "total"), s.Find("[data-testid=usage-executions]").Text(), s.Find("[data-testid=usage-core-hours]").Text(), s.Find("[data-testid=usage-gib-hours]").Text()})
		})
		want := []row{{"bob", "1", "96", "12"}, {"alice", "2", "26", "46"}, {"total", "3", "122", "58"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("table (-want +got):\n%s", diff)
		}
		if got := p.text("[data-testid=usage-days]"); got != "10 days: 2024-03-10 to 2024-03-19." {
			t.Errorf("period: got %q", got)
		}
	})

	t.Run("a period with nothing", func(t *testing.T) {
		p := admin.get("/admin/usage?from=2023-01-01&to=2023-01-31")
		if p.status != http.StatusOK || !p.has("[data-testid=no-usage]") {
			t.Errorf("got %d, no-usage shown %v", p.status, p.has("[data-testid=no-usage]"))
		}
	})

	t.Run("default period", func(t *testing.T) {
		p := admin.get("/admin/usage")
		want := time.Now().UTC().Format("2006-01-02")
		if got := p.doc.Find("#usage-to").AttrOr("value", ""); p.status != http.StatusOK || got != want {
			t.Errorf("got %d with to=%q, want 200 with %q", p.status, got, want)
		}
	})

	t.Run("a wrong date is refused beside its field", func(t *testing.T) {
		p := admin.get("/admin/usage?from=2024-03-10&to=march")
		if p.status != http.StatusUnprocessableEntity || p.text("#usage-to-error") == "" || p.has("[data-testid=usage]") {
			t.Errorf("got %d, error %q", p.status, p.text("#usage-to-error"))
		}
		if got := p.doc.Find("#usage-to").AttrOr("value", ""); got != "march" {
			t.Errorf("field: got %q, want what was typed", got)
		}
	})

	t.Run("users and guests are refused", func(t *testing.T) {
		for _, name := range []string{"alice", "gus"} {
			if p := e.signIn(name).get("/admin/usage"); p.status != http.StatusForbidden {
				t.Errorf("%s: got %d, want 403", name, p.status)
			}
		}
	})
}
