package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

const gib = 1 << 30

func TestCheckQuota(t *testing.T) {
	q := store.Quota{Name: "default", ConcurrentExecutions: 5, Memory: 12 * gib, MilliCores: 20000}
	tests := []struct {
		name    string
		q       store.Quota
		usage   store.Usage
		req     Request
		want    *QuotaError
		wantMsg string
	}{
		{name: "well within", q: q, usage: store.Usage{Executions: 1, Memory: gib, MilliCores: 1000}, req: Request{Memory: gib, MilliCores: 1000}},
		{name: "exactly at every limit after", q: q, usage: store.Usage{Executions: 4, Memory: 10 * gib, MilliCores: 18000}, req: Request{Memory: 2 * gib, MilliCores: 2000}},
		{name: "no free execution slot", q: q, usage: store.Usage{Executions: 5}, req: Request{Memory: 1},
			want:    &QuotaError{Quota: QuotaExecutions, Limit: 5, Used: 5, Requested: 1},
			wantMsg: "concurrent executions quota exceeded: 1 requested, 5 of 5 in use"},
		{name: "memory one byte over", q: q, usage: store.Usage{Executions: 1, Memory: 10 * gib}, req: Request{Memory: 2*gib + 1},
			want:    &QuotaError{Quota: QuotaMemory, Limit: 12 * gib, Used: 10 * gib, Requested: 2*gib + 1},
			wantMsg: "memory quota exceeded: 2 GiB requested, 10 GiB of 12 GiB in use"},
		{name: "memory", q: q, usage: store.Usage{Executions: 1, Memory: 10 * gib}, req: Request{Memory: 6 * gib},
			want:    &QuotaError{Quota: QuotaMemory, Limit: 12 * gib, Used: 10 * gib, Requested: 6 * gib},
			wantMsg: "memory quota exceeded: 6 GiB requested, 10 GiB of 12 GiB in use"},
		{name: "memory in MiB", q: store.Quota{Memory: 1536 << 20}, usage: store.Usage{Memory: 1 << 30}, req: Request{Memory: 768 << 20},
			want:    &QuotaError{Quota: QuotaMemory, Limit: 1536 << 20, Used: 1 << 30, Requested: 768 << 20},
			wantMsg: "memory quota exceeded: 768 MiB requested, 1 GiB of 1.5 GiB in use"},
		{name: "cores", q: q, usage: store.Usage{Executions: 2, MilliCores: 18000}, req: Request{MilliCores: 2500},
			want:    &QuotaError{Quota: QuotaCores, Limit: 20000, Used: 18000, Requested: 2500},
			wantMsg: "cores quota exceeded: 2.5 requested, 18 of 20 in use"},
		{name: "zero means unlimited", q: store.Quota{}, usage: store.Usage{Executions: 1000, Memory: 1 << 50, MilliCores: 1 << 40}, req: Request{Memory: 1 << 40, MilliCores: 1 << 30}},
		{name: "unlimited memory, limited cores", q: store.Quota{MilliCores: 1000}, usage: store.Usage{Memory: 1 << 50}, req: Request{Memory: 1 << 40, MilliCores: 1000}},
		{name: "executions checked first", q: q, usage: store.Usage{Executions: 5, Memory: 12 * gib, MilliCores: 20000}, req: Request{Memory: gib, MilliCores: 1},
			want:    &QuotaError{Quota: QuotaExecutions, Limit: 5, Used: 5, Requested: 1},
			wantMsg: "concurrent executions quota exceeded: 1 requested, 5 of 5 in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckQuota(tt.q, tt.usage, tt.req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckQuota = %v, want nil", err)
				}
				return
			}
			var qe *QuotaError
			if !errors.As(err, &qe) {
				t.Fatalf("CheckQuota = %v, want a *QuotaError", err)
			}
			if diff := cmp.Diff(tt.want, qe); diff != "" {
				t.Errorf("QuotaError (-want +got):\n%s", diff)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
			if !errors.Is(err, ErrQuota) {
				t.Errorf("errors.Is(%v, ErrQuota) = false, want true", err)
			}
		})
	}
}

func TestEffectiveQuota(t *testing.T) {
	tests := []struct {
		role Role
		in   int
		want int
	}{
		{RoleGuest, 0, 1},
		{RoleGuest, 5, 1},
		{RoleGuest, 1, 1},
		{RoleUser, 0, 0},
		{RoleUser, 5, 5},
		{RoleAdmin, 3, 3},
	}
	for _, tt := range tests {
		// The run-time limit must not depend on the role: the status
		// fragment reads the quota alone to say when an execution stops.
		q := store.Quota{ConcurrentExecutions: tt.in, Memory: 7, RuntimeLimit: time.Hour}
		got := EffectiveQuota(tt.role, q)
		if got.ConcurrentExecutions != tt.want || got.Memory != 7 || got.RuntimeLimit != time.Hour {
			t.Errorf("EffectiveQuota(%s, %d executions) = %+v, want %d executions, memory and run-time limit kept", tt.role, tt.in, got, tt.want)
		}
	}
}

func TestRuntimeExceeded(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		limit time.Duration
		start time.Time
		now   time.Time
		want  bool
	}{
		{"unlimited", 0, start, start.Add(1000 * time.Hour), false},
		{"before", time.Hour, start, start.Add(59 * time.Minute), false},
		{"exactly at", time.Hour, start, start.Add(time.Hour), true},
		{"after", time.Hour, start, start.Add(2 * time.Hour), true},
		{"not started", time.Hour, time.Time{}, start, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RuntimeExceeded(store.Quota{RuntimeLimit: tt.limit}, tt.start, tt.now); got != tt.want {
				t.Errorf("RuntimeExceeded = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{1024, "1 KiB"},
		{34359738368, "32 GiB"},
		{1536 << 20, "1.5 GiB"},
		{1 << 40, "1 TiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
