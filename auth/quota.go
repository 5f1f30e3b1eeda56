package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/zoe-analytics/zoe/store"
)

// ErrQuota matches every *QuotaError.
var ErrQuota = errors.New("quota exceeded")

// The names QuotaError.Quota takes.
const (
	QuotaExecutions = "concurrent executions"
	QuotaMemory     = "memory"
	QuotaCores      = "cores"
)

// QuotaError refuses a submission that would exceed a quota. Memory is in
// bytes and cores in milli-cores; Limit is never 0 (0 means unlimited and
// is never exceeded).
type QuotaError struct {
	Quota                  string
	Limit, Used, Requested int64
}

func (e *QuotaError) Error() string {
	switch e.Quota {
	case QuotaMemory:
		return fmt.Sprintf("memory quota exceeded: %s requested, %s of %s in use",
			formatBytes(e.Requested), formatBytes(e.Used), formatBytes(e.Limit))
	case QuotaCores:
		return fmt.Sprintf("cores quota exceeded: %s requested, %s of %s in use",
			formatCores(e.Requested), formatCores(e.Used), formatCores(e.Limit))
	}
	return fmt.Sprintf("%s quota exceeded: %d requested, %d of %d in use", e.Quota, e.Requested, e.Used, e.Limit)
}

// Is makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }

// Request is what a new execution would reserve: the sum over its services
// of the minimum resources times the instance count.
type Request struct {
	Memory     int64
	MilliCores int64
}

// CheckQuota returns a *QuotaError if one more execution reserving req, on
// top of usage, would exceed q; every limit that is 0 is unlimited. Being
// exactly at a limit after the submission is allowed.
//
// The check is only as good as the usage it is given: to stop concurrent
// submissions racing for the last slot, the caller must read usage and
// record the new execution under one lock or transaction.
func CheckQuota(q store.Quota, usage store.Usage, req Request) error {
	if q.ConcurrentExecutions > 0 && usage.Executions+1 > q.ConcurrentExecutions {
		return &QuotaError{Quota: QuotaExecutions, Limit: int64(q.ConcurrentExecutions), Used: int64(usage.Executions), Requested: 1}
	}
	if q.Memory > 0 && usage.Memory+req.Memory > q.Memory {
		return &QuotaError{Quota: QuotaMemory, Limit: q.Memory, Used: usage.Memory, Requested: req.Memory}
	}
	if q.MilliCores > 0 && usage.MilliCores+req.MilliCores > q.MilliCores {
		return &QuotaError{Quota: QuotaCores, Limit: q.MilliCores, Used: usage.MilliCores, Requested: req.MilliCores}
	}
	return nil
}

// GuestExecutions is the number of executions a guest may run at a time.
const GuestExecutions = 1

// EffectiveQuota is the quota that applies to a user of role r whose
// assigned quota is q: guests run at most GuestExecutions at a time
// whatever q says.
func EffectiveQuota(r Role, q store.Quota) store.Quota {
	if r == RoleGuest && (q.ConcurrentExecutions == 0 || q.ConcurrentExecutions > GuestExecutions) {
		q.ConcurrentExecutions = GuestExecutions
	}
	return q
}

// RuntimeExceeded reports whether an execution that started running at
// startedAt has reached q's run-time limit at now. The limit counts from
// the start, not from the submission (the original counted the time spent
// queued too).
func RuntimeExceeded(q store.Quota, startedAt, now time.Time) bool {
	return q.RuntimeLimit > 0 && !startedAt.IsZero() && now.Sub(startedAt) >= q.RuntimeLimit
}

// formatBytes writes n in the largest binary unit that keeps it readable:
// "12 GiB", "1.5 GiB", "512 MiB".
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for i < len(units)-1 && (v >= 1024 || v <= -1024) {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(roundTo(v, 2), 'f', -1, 64) + " " + units[i]
}

func formatCores(milli int64) string {
	return strconv.FormatFloat(roundTo(float64(milli)/1000, 3), 'f', -1, 64)
}

func roundTo(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	r := v * p
	if r < 0 {
		return float64(int64(r-0.5)) / p
	}
	return float64(int64(r+0.5)) / p
}

// Admission is the check to pass to store.CreateExecutionWithQuota for a
// user of role r submitting req: the store calls it with the user's quota
// and usage inside the transaction that records the execution, so that
// submissions racing for the last slot admit exactly one.
func Admission(r Role, req Request) func(store.Quota, store.Usage) error {
	return func(q store.Quota, u store.Usage) error {
		return CheckQuota(EffectiveQuota(r, q), u, req)
	}
}
