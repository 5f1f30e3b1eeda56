package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummarise(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, Min: ms(7)[0], P25: ms(7)[0], P50: ms(7)[0], P75: ms(7)[0], P90: ms(7)[0], P99: ms(7)[0], Max: ms(7)[0]}},
		{"unsorted", ms(5, 1, 4, 2, 3), Summary{N: 5, Min: ms(1)[0], P25: ms(2)[0], P50: ms(3)[0], P75: ms(4)[0], P90: ms(5)[0], P99: ms(5)[0], Max: ms(5)[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Summarise(tt.in)); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunStopsAtTheRequestCount(t *testing.T) {
	var n atomic.Int64
	r := Run(context.Background(), Config{Workers: 4, Requests: 100, Duration: time.Minute}, func(context.Context, int) error {
		if n.Add(1)%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	})
	if got := n.Load(); got != 100 {
		t.Errorf("got %d operations, want 100", got)
	}
	if r.Ops != 90 || r.Errors != 10 || r.FirstErr == nil {
		t.Errorf("got %d ops, %d errors (first %v), want 90 and 10", r.Ops, r.Errors, r.FirstErr)
	}
}

// A run without a request count ends by its duration alone; were it not
// to, the test would hang until go test's timeout.
func TestRunStopsAtTheDuration(t *testing.T) {
	r := Run(context.Background(), Config{Workers: 2, Duration: 50 * time.Millisecond}, func(context.Context, int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if r.Ops == 0 || r.Errors != 0 {
		t.Errorf("got %d ops and %d errors, want some ops and no errors", r.Ops, r.Errors)
	}
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(EchoWS))
	defer srv.Close()
	c, err := DialWS(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, msg := range []string{"hi", strings.Repeat("x", 200), strings.Repeat("y", 70000)} {
		if err := c.RoundTrip([]byte(msg)); err != nil {
			t.Errorf("round trip of %d bytes: %v", len(msg), err)
		}
	}
}

func TestDialWSRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := DialWS(srv.URL, nil); !errors.Is(err, ErrNotUpgraded) {
		t.Errorf("got %v, want ErrNotUpgraded", err)
	}
}
