package shop

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/zapp"
)

// minIdleTimeout keeps a typo ("30s" for "30m") from making a ZApp
// unusable.
const minIdleTimeout = time.Minute

// idleTimeout decodes a manifest's idle_timeout: a Go duration such as
// "30m" or "2h".
func idleTimeout(dst *time.Duration) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		var s string
		if msg := str(&s, true)(raw); msg != "" {
			return msg
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Sprintf("want a duration such as \"30m\" or \"2h\", got %q", s)
		}
		if d < minIdleTimeout {
			return fmt.Sprintf("must be at least %s, got %s", minIdleTimeout, d)
		}
		*dst = d
		return ""
	}
}

// activityURLs decodes a manifest's activity_urls.
func activityURLs(path string, dst *[]zapp.ActivityURL, errs *zapp.Errors) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		if k := jsonKind(raw); k != "a list" {
			return "want a list, got " + k
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err.Error()
		}
		for i, it := range items {
			var (
				a    zapp.ActivityURL
				port int64
			)
			ip := index(join(path, "activity_urls"), i)
			ierrs := decodeObject(ip, it, []field{
				{"service", true, str(&a.Service, true)},
				{"port", true, integer(&port, nil)},
				{"path", true, str(&a.Path, true)},
			})
			if len(ierrs) == 0 {
				a.Port = int(port)
				if msg := checkActivityPath(a.Path); msg != "" {
					ierrs = append(ierrs, zapp.FieldError{Path: join(ip, "path"), Message: msg})
				}
			}
			*errs = append(*errs, ierrs...)
			*dst = append(*dst, a)
		}
		return ""
	}
}

// checkActivityPath returns what is wrong with an activity URL's path: it
// is a path on the service (the culler adds the address the proxy uses),
// so no scheme, host or parent segments.
func checkActivityPath(p string) string {
	rest, ok := strings.CutPrefix(p, "{proxy_path}")
	switch {
	case !ok && !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("must start with \"/\" or \"{proxy_path}\", got %q", p)
	case strings.ContainsAny(rest, "{}\\ \t\r\n#"):
		return fmt.Sprintf("must be a plain path after {proxy_path}, got %q", p)
	case strings.Contains(rest, "://"):
		return fmt.Sprintf("must be a path on the service, not a URL, got %q", p)
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg == ".." {
			return fmt.Sprintf("must not contain \"..\", got %q", p)
		}
	}
	return ""
}

// checkActivityURLs checks that each activity URL names a service of d and
// one of its ports. It returns problems keyed by their manifest path
// relative to the entry.
func checkActivityURLs(urls []zapp.ActivityURL, d *zapp.Description) zapp.Errors {
	var errs zapp.Errors
	for i, a := range urls {
		at := index("activity_urls", i)
		var svc *zapp.Service
		for j := range d.Services {
			if d.Services[j].Name == a.Service {
				svc = &d.Services[j]
			}
		}
		if svc == nil {
			errs = append(errs, zapp.FieldError{Path: join(at, "service"), Message: fmt.Sprintf("no service %q in the description", a.Service)})
			continue
		}
		found := false
		for _, p := range svc.Ports {
			found = found || p.PortNumber == a.Port
		}
		if !found {
			errs = append(errs, zapp.FieldError{Path: join(at, "port"), Message: fmt.Sprintf("service %q declares no port %d", a.Service, a.Port)})
		}
	}
	return errs
}
