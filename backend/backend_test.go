package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		state string
		want  Status
	}{
		{"created", StatusCreated},
		{"running", StatusStarted},
		{"restarting", StatusStarted},
		{"removing", StatusStarted},
		{"exited", StatusDead},
		{"dead", StatusDead},
		{"paused", StatusDead},
		{"", StatusUndefined},
		{"weird", StatusUndefined},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			if got := (Container{State: tt.state}).Status(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unreachable", fmt.Errorf("start x on h1: %w: connection refused", ErrHostUnreachable), true},
		{"deadline", fmt.Errorf("list on h1: %w", context.DeadlineExceeded), true},
		{"net timeout", fmt.Errorf("inspect: %w", timeoutErr{}), true},
		{"image missing", &ImageMissingError{Image: "zoe/jupyter:6.4", Host: "h2"}, false},
		{"pull timed out", &ImageMissingError{Image: "zoe/jupyter:6.4", Host: "h2", PullErr: context.DeadlineExceeded}, false},
		{"invalid spec", fmt.Errorf("start x: %w: network \"host\"", ErrInvalidSpec), false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestImageMissingError(t *testing.T) {
	tests := []struct {
		err  *ImageMissingError
		want string
	}{
		{&ImageMissingError{Image: "zoe/jupyter:6.4", Host: "h2"}, "start jupyter0: image zoe/jupyter:6.4 is not on host h2"},
		{
			&ImageMissingError{Image: "zoe/jupyter:6.4", Host: "h2", PullErr: errors.New("registry unreachable")},
			"start jupyter0: image zoe/jupyter:6.4 is not on host h2 and could not be pulled: registry unreachable",
		},
	}
	for _, tt := range tests {
		err := fmt.Errorf("start jupyter0: %w", tt.err)
		if !errors.Is(err, ErrImageMissing) {
			t.Errorf("errors.Is(%v, ErrImageMissing) = false, want true", err)
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
