package zapp

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    Bytes
		wantErr bool
	}{
		{"1024", 1024, false},
		{"0", 0, false},
		{"512MiB", 512 * MiB, false},
		{"512MB", 512 * MiB, false},
		{"512M", 512 * MiB, false},
		{"512mib", 512 * MiB, false},
		{"2GiB", 2 * GiB, false},
		{"2G", 2 * GiB, false},
		{"2g", 2 * GiB, false},
		{"2GB", 2 * GiB, false},
		{"1.5GiB", 3 * GiB / 2, false},
		{"1.5 GiB", 3 * GiB / 2, false},
		{" 64 KiB ", 64 * KiB, false},
		{"1K", KiB, false},
		{"1TiB", TiB, false},
		{"100B", 100, false},
		{"0.1KiB", 102, false}, // 102.4 rounds to the nearest byte
		{".5GiB", GiB / 2, false},
		{"8EiB", 0, true},
		{"", 0, true},
		{"GiB", 0, true},
		{"1.2.3GiB", 0, true},
		{"1e3", 0, true},
		{"lots", 0, true},
		{"-1GiB", -GiB, false}, // parses; validation rejects negative sizes
		{"99999999PiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrSize) {
					t.Errorf("got %v, %v; want ErrSize", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestBytesString(t *testing.T) {
	tests := []struct {
		in   Bytes
		want string
	}{
		{0, "0 B"},
		{1000, "1000 B"},
		{KiB, "1 KiB"},
		{512 * MiB, "512 MiB"},
		{2 * GiB, "2 GiB"},
		{3 * GiB / 2, "1.5 GiB"},
		{GiB + GiB/4, "1.25 GiB"},
		{GiB + 1, "1073741825 B"}, // not exact with two decimals in any unit
		{1536 * KiB, "1.5 MiB"},
		{12 * GiB, "12 GiB"},
		{-2 * GiB, "-2 GiB"},
		{3 * TiB, "3 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.in <= 0 {
				return
			}
			// What String prints, ParseBytes reads back.
			if back, err := ParseBytes(tt.in.String()); err != nil || back != tt.in {
				t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
			}
		})
	}
}

func TestParseCores(t *testing.T) {
	tests := []struct {
		in      string
		want    MilliCores
		wantErr bool
	}{
		{"1", 1000, false},
		{"0.5", 500, false},
		{"2", 2000, false},
		{"500m", 500, false},
		{"0.0004", 0, false},
		{"0.0015", 2, false},
		{"", 0, true},
		{"two", 0, true},
		{"1e3", 0, true},
		{"99999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCores(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrSize) {
					t.Errorf("got %v, %v; want ErrSize", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestCoresString(t *testing.T) {
	tests := []struct {
		in         MilliCores
		want, json string
	}{
		{500, "0.5 cores", "0.5"},
		{1000, "1 core", "1"},
		{2000, "2 cores", "2"},
		{1250, "1.25 cores", "1.25"},
		{1, "0.001 cores", "0.001"},
		{0, "0 cores", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			b, err := json.Marshal(tt.in)
			if err != nil || string(b) != tt.json {
				t.Errorf("Marshal = %s, %v; want %s", b, err, tt.json)
			}
			var back MilliCores
			if err := json.Unmarshal(b, &back); err != nil || back != tt.in {
				t.Errorf("Unmarshal(%s) = %d, %v; want %d", b, back, err, tt.in)
			}
		})
	}
}

func TestSizeJSON(t *testing.T) {
	var v struct {
		Mem   Bytes      `json:"mem"`
		Cores MilliCores `json:"cores"`
	}
	if err := json.Unmarshal([]byte(`{"mem": "2GiB", "cores": 0.5}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Mem != 2*GiB || v.Cores != 500 {
		t.Errorf("got %d, %d; want %d, 500", v.Mem, v.Cores, 2*GiB)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"mem":2147483648,"cores":0.5}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, bad := range []string{`{"mem": "x"}`, `{"mem": true}`, `{"cores": "x"}`, `{"mem": 1.5}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%s): got no error", bad)
		}
	}
}

func TestBytesFlag(t *testing.T) {
	var b Bytes
	if err := b.Set("64GiB"); err != nil || b != 64*GiB {
		t.Errorf("Set: got %d, %v", b, err)
	}
	var c MilliCores
	if err := c.Set("1.5"); err != nil || c != 1500 {
		t.Errorf("Set: got %d, %v", c, err)
	}
	if err := b.Set("nope"); err == nil {
		t.Error("Set(nope): got no error")
	}
}
