// Package views holds Zoe's templ templates: full pages wrap their content
// in Layout, and every part that HTMX refreshes is its own component with a
// stable id, so a handler can render it alone.
package views

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func statusLine(code int) string {
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

const (
	kib = 1024
	mib = 1024 * kib
	gib = 1024 * mib
)

// Bytes formats a size for people: "512 MiB", "1.5 GiB".
func Bytes(b int64) string {
	switch {
	case b >= gib:
		return trimFloat(float64(b)/gib) + " GiB"
	case b >= mib:
		return trimFloat(float64(b)/mib) + " MiB"
	case b >= kib:
		return trimFloat(float64(b)/kib) + " KiB"
	}
	return strconv.FormatInt(b, 10) + " B"
}

// MiB formats a size given in MiB, as the sliders hold it.
func MiB(m int64) string { return Bytes(m * mib) }

// Cores formats milli-cores: "0.5 cores", "1 core".
func Cores(milli int64) string {
	s := trimFloat(float64(milli) / 1000)
	if s == "1" {
		return "1 core"
	}
	return s + " cores"
}

func trimFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Duration formats a length of time in the largest sensible units: "3 h
// 20 min", "45 s".
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0 s"
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	if m > 0 && days == 0 {
		parts = append(parts, fmt.Sprintf("%d min", m))
	}
	if s > 0 && days == 0 && h == 0 {
		parts = append(parts, fmt.Sprintf("%d s", s))
	}
	return strings.Join(parts, " ")
}

// percent is the share of used in total for the bars, 0–100.
func percent(used, total int64) int {
	if total <= 0 {
		return 0
	}
	p := int(used * 100 / total)
	return max(0, min(p, 100))
}

// barClass colours a usage bar by how full it is.
func barClass(used, total int64) string {
	switch p := percent(used, total); {
	case total > 0 && used > total:
		return "bar bar-over"
	case p >= 90:
		return "bar bar-high"
	case p >= 70:
		return "bar bar-mid"
	}
	return "bar"
}

func widthStyle(used, total int64) string {
	return fmt.Sprintf("width:%d%%", percent(used, total))
}

func itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// utc is how a time is written before the browser rewrites it in the
// viewer's zone (see static/app.js).
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// statusClass is the CSS class of an execution or service state badge.
func statusClass(s string) string {
	return "status status-" + strings.ReplaceAll(s, " ", "-")
}

func execURL(id int64) string { return "/executions/" + itoa(id) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}

// initial is the letter shown in place of a missing logo.
func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

// Hours formats a number of core-hours or GiB-hours: "12.5", "0.03".
func Hours(h float64) string {
	if h >= 100 {
		return strconv.FormatFloat(h, 'f', 0, 64)
	}
	return trimFloat(h)
}

func anyActive(rows []ExecutionRow) bool {
	for _, r := range rows {
		if r.Active {
			return true
		}
	}
	return false
}
