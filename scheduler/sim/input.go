// Package sim replays a workload trace through the scheduler in virtual
// time, so that policies and placements can be compared on the same code
// that runs in zoe serve. It also generates synthetic traces.
package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/zapp"
)

// ErrInput reports a hosts file or a trace that cannot be used. The message
// names the line and the field.
var ErrInput = errors.New("bad input")

// HostSpec is one entry of a hosts file: memory as bytes or a string such as
// "64GiB", cores as a number.
type HostSpec struct {
	Name   string          `json:"name"`
	Cores  zapp.MilliCores `json:"cores"`
	Memory zapp.Bytes      `json:"memory"`
	Labels []string        `json:"labels,omitempty"`
}

// Job is one request of a trace.
type Job struct {
	ID        string
	Line      int
	Arrival   float64 // seconds from the start of the trace
	Duration  float64 // run time with all instances running, seconds
	Size      float64 // the ZApp's size hint
	Instances []scheduler.Instance
}

// ReadHosts reads a hosts file: a JSON array of HostSpec.
func ReadHosts(r io.Reader) ([]scheduler.Host, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read hosts: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%w: line %d: want a JSON array of hosts", ErrInput, lineAt(data, dec.InputOffset()))
	}
	var hosts []scheduler.Host
	seen := map[string]int{}
	for i := 0; dec.More(); i++ {
		line := lineAt(data, skipSpace(data, dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: line %d: hosts[%d]: %v", ErrInput, line, i, err)
		}
		field := func(name, msg string, args ...any) error {
			return fmt.Errorf("%w: line %d: hosts[%d].%s: %s", ErrInput, line, i, name, fmt.Sprintf(msg, args...))
		}
		// Fields one by one, so that an error names its field.
		var hl struct {
			Name   string          `json:"name"`
			Cores  json.RawMessage `json:"cores"`
			Memory json.RawMessage `json:"memory"`
			Labels []string        `json:"labels"`
		}
		if err := strictDecode(raw, &hl); err != nil {
			var fe fieldError
			if errors.As(err, &fe) {
				return nil, field(fe.field, "%s", fe.msg)
			}
			return nil, fmt.Errorf("%w: line %d: hosts[%d]: %v", ErrInput, line, i, err)
		}
		h := HostSpec{Name: hl.Name, Labels: hl.Labels}
		if hl.Memory == nil {
			return nil, field("memory", "missing")
		}
		if err := h.Memory.UnmarshalJSON(hl.Memory); err != nil {
			return nil, field("memory", "%s", sizeMessage(err))
		}
		if hl.Cores == nil {
			return nil, field("cores", "missing")
		}
		if err := h.Cores.UnmarshalJSON(hl.Cores); err != nil {
			return nil, field("cores", "%s", sizeMessage(err))
		}
		switch {
		case h.Name == "":
			return nil, field("name", "missing or empty")
		case seen[h.Name] != 0:
			return nil, field("name", "%q already used on line %d", h.Name, seen[h.Name])
		case h.Memory <= 0:
			return nil, field("memory", "must be positive, such as \"64GiB\"")
		case h.Cores <= 0:
			return nil, field("cores", "must be positive")
		}
		seen[h.Name] = line
		hosts = append(hosts, scheduler.Host{Name: h.Name, Memory: int64(h.Memory), MilliCores: int64(h.Cores), Labels: h.Labels})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrInput, lineAt(data, dec.InputOffset()), err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: no hosts", ErrInput)
	}
	return hosts, nil
}

// traceLine is one line of a trace as written.
type traceLine struct {
	ID          *string          `json:"id"`
	Arrival     *float64         `json:"arrival"`
	Duration    *float64         `json:"duration"`
	Description *json.RawMessage `json:"description"`
}

// ReadTrace reads a trace: one JSON object per line, blank lines skipped.
func ReadTrace(r io.Reader) ([]Job, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var jobs []Job
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		fail := func(field, msg string, args ...any) error {
			if field == "" {
				return fmt.Errorf("%w: line %d: %s", ErrInput, line, fmt.Sprintf(msg, args...))
			}
			return fmt.Errorf("%w: line %d: field %q: %s", ErrInput, line, field, fmt.Sprintf(msg, args...))
		}
		var tl traceLine
		if err := strictDecode(text, &tl); err != nil {
			var fe fieldError
			if errors.As(err, &fe) {
				return nil, fail(fe.field, "%s", fe.msg)
			}
			return nil, fail("", "%v", err)
		}
		switch {
		case tl.ID == nil || *tl.ID == "":
			return nil, fail("id", "missing or empty")
		case seen[*tl.ID] != 0:
			return nil, fail("id", "%q already used on line %d", *tl.ID, seen[*tl.ID])
		case tl.Arrival == nil:
			return nil, fail("arrival", "missing")
		case *tl.Arrival < 0 || math.IsInf(*tl.Arrival, 0):
			return nil, fail("arrival", "must be a number of seconds, zero or more, got %v", *tl.Arrival)
		case tl.Duration == nil:
			return nil, fail("duration", "missing")
		case *tl.Duration <= 0 || math.IsInf(*tl.Duration, 0):
			return nil, fail("duration", "must be a positive number of seconds, got %v", *tl.Duration)
		case tl.Description == nil:
			return nil, fail("description", "missing")
		}
		seen[*tl.ID] = line
		d, err := zapp.Parse(*tl.Description, zapp.TrustShop)
		if err != nil {
			return nil, fail("description", "%v", err)
		}
		job := Job{ID: *tl.ID, Line: line, Arrival: *tl.Arrival, Duration: *tl.Duration, Size: float64(d.Size)}
		for _, in := range d.Instances() {
			job.Instances = append(job.Instances, scheduler.Instance{
				Name:       in.Name,
				Group:      in.Group,
				Essential:  in.Essential,
				Memory:     int64(in.Service.Resources.Memory.Min),
				MilliCores: int64(in.Service.Resources.Cores.Min),
				Labels:     in.Service.Labels,
				Image:      in.Service.Image,
			})
		}
		jobs = append(jobs, job)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	return jobs, nil
}

// fieldError is a decoding problem of one named field.
type fieldError struct{ field, msg string }

func (e fieldError) Error() string { return e.field + ": " + e.msg }

// strictDecode decodes one JSON value, refusing unknown fields and trailing
// data, and names the field of a type error.
func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fieldError{te.Field, fmt.Sprintf("want a %s, got %s", te.Type, te.Value)}
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fieldError{strings.Trim(msg, `"`), "unknown field"}
		}
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the object")
	}
	return nil
}

// sizeMessage drops the sentinel's text that zapp puts before its own,
// more precise, message.
func sizeMessage(err error) string {
	return strings.TrimPrefix(err.Error(), zapp.ErrSize.Error()+": ")
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// skipSpace moves past whitespace and a separating comma, to the start of
// the next value.
func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return off
}
