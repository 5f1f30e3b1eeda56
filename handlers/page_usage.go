package handlers

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/views"
)

const (
	usageDate = "2006-01-02"
	// usageDefaultDays is the period shown when none is asked for.
	usageDefaultDays = 30
	// usageMaxDays bounds a period, so a typo in a year does not walk
	// centuries of nothing.
	usageMaxDays = 3660
	// usageBatch is how many executions one store query reads.
	usageBatch = 500
)

// usagePage shows, for a period of whole UTC days, what each user
// reserved: executions that ran in it, core-hours and GiB-hours.
func (s *Server) usagePage(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	v, from, to := usagePeriod(r.URL.Query().Get("from"), r.URL.Query().Get("to"), now)
	status := http.StatusOK
	if len(v.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		execs, err := s.allExecutions(r.Context())
		if err != nil {
			s.pageProblem(w, r, err)
			return
		}
		v.Rows, v.Total = usagePerUser(execs, from, to, now)
	}
	p := s.page(r, "Usage")
	p.Nav = "usage"
	s.render(w, r, status, views.UsagePage(p, v), nil)
}

// usagePeriod reads the period of the form: from the start of day from to
// the end of day to, in UTC; the last 30 days up to today by default.
func usagePeriod(fromText, toText string, now time.Time) (v views.UsageView, from, to time.Time) {
	v.Errors = views.FieldErrors{}
	today := now.UTC().Truncate(24 * time.Hour)
	to, from = today, today.AddDate(0, 0, 1-usageDefaultDays)
	if toText != "" {
		t, err := time.Parse(usageDate, toText)
		if err != nil {
			v.Errors["to"] = "Give a date as YYYY-MM-DD."
		}
		to = t
	}
	if fromText != "" {
		t, err := time.Parse(usageDate, fromText)
		if err != nil {
			v.Errors["from"] = "Give a date as YYYY-MM-DD."
		}
		from = t
	}
	v.From, v.To = fromText, toText
	if len(v.Errors) == 0 {
		v.From, v.To = from.Format(usageDate), to.Format(usageDate)
		switch days := int(to.Sub(from).Hours()/24) + 1; {
		case days < 1:
			v.Errors["to"] = "The end must not come before the start."
		case days > usageMaxDays:
			v.Errors["from"] = "Choose a period of at most ten years."
		default:
			v.Days = days
		}
	}
	return v, from, to.AddDate(0, 0, 1)
}

// allExecutions reads every execution, a page at a time. An execution
// submitted long before a period may still have run in it, so none can be
// left out by date.
func (s *Server) allExecutions(ctx context.Context) ([]store.Execution, error) {
	var out []store.Execution
	seen := map[int64]bool{}
	for offset := 0; ; offset += usageBatch {
		page, total, err := s.store.ListExecutions(ctx, store.ExecutionFilter{Limit: usageBatch, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			// New executions shift the pages while we read; count each once.
			if !seen[e.ID] {
				seen[e.ID] = true
				e.Description = nil
				out = append(out, e)
			}
		}
		if len(page) < usageBatch || offset+usageBatch >= total {
			return out, nil
		}
	}
}

// usagePerUser charges each execution's reservation for the part of
// [started, ended or now] inside [from, to): cores × hours and GiB ×
// hours. An execution counts for the period when it started in it or was
// still running at its start. Rows come most core-hours first.
func usagePerUser(execs []store.Execution, from, to, now time.Time) ([]views.UsageRow, views.UsageRow) {
	byUser := map[int64]*views.UsageRow{}
	var total views.UsageRow
	for _, e := range execs {
		if e.StartedAt == nil {
			continue
		}
		start, end := *e.StartedAt, now
		switch {
		case e.EndedAt != nil:
			end = *e.EndedAt
		case store.IsEnded(e.Status):
			// Ended without an end time: its last update is the best guess.
			end = e.UpdatedAt
		}
		if !start.Before(to) || (start.Before(from) && !end.After(from)) {
			continue
		}
		held := max(minTime(end, to).Sub(maxTime(start, from)), 0).Hours()
		row := byUser[e.UserID]
		if row == nil {
			row = &views.UsageRow{UserID: e.UserID, Username: e.Username}
			byUser[e.UserID] = row
		}
		cores, gib := float64(e.MilliCores)/1000*held, float64(e.Memory)/(1<<30)*held
		row.Executions++
		row.CoreHours += cores
		row.GiBHours += gib
		total.Executions++
		total.CoreHours += cores
		total.GiBHours += gib
	}
	rows := make([]views.UsageRow, 0, len(byUser))
	for _, row := range byUser {
		if total.CoreHours > 0 {
			row.Share = int64(row.CoreHours/total.CoreHours*100 + 0.5)
		}
		rows = append(rows, *row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].CoreHours != rows[j].CoreHours {
			return rows[i].CoreHours > rows[j].CoreHours
		}
		return rows[i].Username < rows[j].Username
	})
	if total.CoreHours > 0 {
		total.Share = 100
	}
	return rows, total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
