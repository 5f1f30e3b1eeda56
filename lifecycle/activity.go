package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/zapp"
)

// report is what an activity URL said.
type report struct {
	// Last is the latest activity it reported; zero for none.
	Last time.Time
	// Busy means work is going on now (a kernel is executing), however
	// old Last is: a long computation prints nothing for hours.
	Busy bool
}

// parseActivity reads what an activity URL answered: an object such as
// Jupyter's /api/status ({"last_activity": "…", "kernels": 1,
// "connections": 0}) or a list of them such as Jupyter's /api/kernels
// ([{"execution_state": "busy", "last_activity": "…"}]). last_activity
// (RFC 3339) is the time of the latest use; an execution_state of "busy"
// means in use now. Counts of kernels or connections are not use: a tab
// left open on a notebook nobody looks at keeps both.
func parseActivity(body []byte) (report, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return report{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var objs []any
	switch v := v.(type) {
	case map[string]any:
		objs = []any{v}
	case []any:
		objs = v
	default:
		return report{}, fmt.Errorf("want a JSON object or list, got %s", jsonType(v))
	}
	var r report
	for i, o := range objs {
		obj, ok := o.(map[string]any)
		if !ok {
			return report{}, fmt.Errorf("[%d]: want an object, got %s", i, jsonType(o))
		}
		if raw, ok := obj["last_activity"]; ok && raw != nil {
			s, ok := raw.(string)
			if !ok {
				return report{}, fmt.Errorf("last_activity: want a string, got %s", jsonType(raw))
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return report{}, fmt.Errorf("last_activity: %q is not an RFC 3339 time", s)
			}
			if t.After(r.Last) {
				r.Last = t
			}
		}
		if state, _ := obj["execution_state"].(string); state == "busy" {
			r.Busy = true
		}
	}
	return r, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// maxActivityBody bounds what the culler reads from a service.
const maxActivityBody = 1 << 20

// probe asks the activity URL url and interprets its answer.
func probe(ctx context.Context, client *http.Client, url string) (report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return report{}, fmt.Errorf("activity URL %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return report{}, fmt.Errorf("activity URL: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxActivityBody))
	if err != nil {
		return report{}, fmt.Errorf("activity URL %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return report{}, fmt.Errorf("activity URL %s: status %s", url, resp.Status)
	}
	r, err := parseActivity(body)
	if err != nil {
		return report{}, fmt.Errorf("activity URL %s: %w", url, err)
	}
	return r, nil
}

// activityPath fills in the {proxy_path} of an activity URL's path.
func activityPath(a zapp.ActivityURL, proxyPath string) string {
	return strings.ReplaceAll(a.Path, "{proxy_path}", proxyPath)
}
