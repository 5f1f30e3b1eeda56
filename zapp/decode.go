package zapp

import (
	"fmt"
	"math"
	"strconv"
)

// located is a decoding or validation error with the byte offset used to
// sort errors in document order.
type located struct {
	FieldError
	off int64
}

// decoder turns a JSON tree into a Description, recording every shape or
// type problem instead of stopping at the first.
type decoder struct {
	errs    []located
	offsets map[string]int64 // path -> offset of its value
}

func (dc *decoder) fail(path string, off int64, format string, args ...any) {
	dc.errs = append(dc.errs, located{FieldError: FieldError{Path: path, Message: fmt.Sprintf(format, args...)}, off: off})
}

// err returns the decoding errors as Errors, or nil.
func (dc *decoder) err() error {
	if len(dc.errs) == 0 {
		return nil
	}
	out := make(Errors, len(dc.errs))
	for i, e := range dc.errs {
		out[i] = e.FieldError
	}
	return out
}

// offset returns where path (or its nearest present ancestor) starts.
func (dc *decoder) offset(path string) int64 {
	for {
		if off, ok := dc.offsets[path]; ok {
			return off
		}
		i := lastSep(path)
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}

func lastSep(path string) int {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '.' || path[i] == '[' {
			return i
		}
	}
	return -1
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// field is one key of an object.
type field struct {
	name     string
	required bool
	decode   func(path string, n *node)
}

// object decodes n as an object with the given fields, rejecting unknown
// and duplicate keys and reporting missing required ones. It returns false
// when n is not an object.
func (dc *decoder) object(path string, n *node, fields []field) bool {
	dc.offsets[path] = n.off
	if n.kind != kindObject {
		dc.fail(path, n.off, "must be an object, got %s", n.kindName())
		return false
	}
	present := map[string]bool{}
	for i, key := range n.keys {
		v := n.elems[i]
		p := join(path, key)
		dc.offsets[p] = v.off
		present[key] = true
		found := false
		for _, f := range fields {
			if f.name == key {
				f.decode(p, v)
				found = true
				break
			}
		}
		if !found {
			dc.fail(p, v.off, "unknown field")
		}
	}
	for _, d := range n.dups {
		dc.fail(join(path, d.key), d.off, "duplicate key")
	}
	for _, f := range fields {
		if f.required && !present[f.name] {
			dc.fail(join(path, f.name), n.off, "is required")
		}
	}
	return true
}

// array decodes n as an array, calling elem for every element.
func (dc *decoder) array(path string, n *node, elem func(path string, n *node)) {
	if n.kind != kindArray {
		dc.fail(path, n.off, "must be an array, got %s", n.kindName())
		return
	}
	for i, e := range n.elems {
		p := index(path, i)
		dc.offsets[p] = e.off
		elem(p, e)
	}
}

func (dc *decoder) str(dst *string) func(string, *node) {
	return func(path string, n *node) {
		if n.kind != kindString {
			dc.fail(path, n.off, "must be a string, got %s", n.kindName())
			return
		}
		*dst = n.text
	}
}

func (dc *decoder) boolean(dst *bool) func(string, *node) {
	return func(path string, n *node) {
		if n.kind != kindBool {
			dc.fail(path, n.off, "must be true or false, got %s", n.kindName())
			return
		}
		*dst = n.b
	}
}

// integer decodes a whole number; the original's schema used "number,
// multipleOf 1", so 3.0 is accepted as 3.
func (dc *decoder) integer(path string, n *node, min, max int64) (int64, bool) {
	if n.kind != kindNumber {
		dc.fail(path, n.off, "must be an integer, got %s", n.kindName())
		return 0, false
	}
	if v, err := strconv.ParseInt(n.text, 10, 64); err == nil {
		if v < min || v > max {
			dc.fail(path, n.off, "is out of range, got %d", v)
			return 0, false
		}
		return v, true
	}
	r, ok := ratFromNumber(n.text)
	switch {
	case ok && !r.IsInt():
		dc.fail(path, n.off, "must be an integer, got %s", n.text)
		return 0, false
	case !ok || !r.Num().IsInt64() || r.Num().Int64() < min || r.Num().Int64() > max:
		// ratFromNumber fails only for huge exponents.
		dc.fail(path, n.off, "is out of range, got %s", n.text)
		return 0, false
	}
	return r.Num().Int64(), true
}

func (dc *decoder) intField(dst *int) func(string, *node) {
	return func(path string, n *node) {
		if v, ok := dc.integer(path, n, math.MinInt32, math.MaxInt32); ok {
			*dst = int(v)
		}
	}
}

func (dc *decoder) description(n *node) *Description {
	d := &Description{}
	dc.object("", n, []field{
		{"name", true, dc.str(&d.Name)},
		{"version", true, dc.intField(&d.Version)},
		{"will_end", true, dc.boolean(&d.WillEnd)},
		{"size", true, func(path string, n *node) {
			if v, ok := dc.integer(path, n, math.MinInt64, math.MaxInt64); ok {
				d.Size = v
			}
		}},
		{"services", true, func(path string, n *node) {
			dc.array(path, n, func(path string, n *node) {
				d.Services = append(d.Services, dc.service(path, n))
			})
		}},
	})
	return d
}

func (dc *decoder) service(path string, n *node) Service {
	var s Service
	dc.object(path, n, []field{
		{"name", true, dc.str(&s.Name)},
		{"image", true, dc.str(&s.Image)},
		{"monitor", true, dc.boolean(&s.Monitor)},
		{"essential_count", true, dc.intField(&s.EssentialCount)},
		{"total_count", true, dc.intField(&s.TotalCount)},
		{"startup_order", true, dc.intField(&s.StartupOrder)},
		{"replicas", false, func(path string, n *node) {
			var v int
			dc.intField(&v)(path, n)
			s.Replicas = &v
		}},
		{"resources", true, func(path string, n *node) { s.Resources = dc.resources(path, n) }},
		{"ports", true, func(path string, n *node) {
			dc.array(path, n, func(path string, n *node) { s.Ports = append(s.Ports, dc.port(path, n)) })
		}},
		{"environment", true, func(path string, n *node) {
			dc.array(path, n, func(path string, n *node) { s.Environment = append(s.Environment, dc.envVar(path, n)) })
		}},
		{"volumes", true, func(path string, n *node) {
			dc.array(path, n, func(path string, n *node) { s.Volumes = append(s.Volumes, dc.volume(path, n)) })
		}},
		{"command", true, func(path string, n *node) {
			switch n.kind {
			case kindNull:
			case kindString:
				c := n.text
				s.Command = &c
			default:
				dc.fail(path, n.off, "must be a string or null, got %s", n.kindName())
			}
		}},
		{"work_dir", false, func(path string, n *node) {
			dc.str(&s.WorkDir)(path, n)
			if n.kind == kindString && n.text == "" {
				dc.fail(path, n.off, "must not be empty (leave it out to use the image's)")
			}
		}},
		{"labels", false, func(path string, n *node) {
			dc.array(path, n, func(path string, n *node) {
				var l string
				dc.str(&l)(path, n)
				s.Labels = append(s.Labels, l)
			})
		}},
		{"network", false, func(path string, n *node) {
			dc.str(&s.Network)(path, n)
			if n.kind == kindString && n.text == "" {
				dc.fail(path, n.off, "must not be empty (leave it out to use the site's network)")
			}
		}},
	})
	return s
}

func (dc *decoder) resources(path string, n *node) Resources {
	var r Resources
	dc.object(path, n, []field{
		{"memory", true, func(path string, n *node) {
			dc.object(path, n, []field{
				{"min", true, dc.bytes(&r.Memory.Min)},
				{"max", true, dc.bytes(&r.Memory.Max)},
			})
		}},
		{"cores", true, func(path string, n *node) {
			dc.object(path, n, []field{
				{"min", true, dc.cores(&r.Cores.Min)},
				{"max", true, dc.cores(&r.Cores.Max)},
			})
		}},
		{"shm", false, func(path string, n *node) {
			dc.bytes(&r.Shm)(path, n)
			if n.kind == kindNull {
				dc.fail(path, n.off, "must be a size, got null (leave it out for Docker's default)")
			}
		}},
	})
	return r
}

func (dc *decoder) bytes(dst *Bytes) func(string, *node) {
	return func(path string, n *node) {
		v, msg := bytesFromNode(n)
		if msg != "" {
			dc.fail(path, n.off, "%s", msg)
			return
		}
		*dst = v
	}
}

func (dc *decoder) cores(dst *MilliCores) func(string, *node) {
	return func(path string, n *node) {
		v, msg := coresFromNode(n)
		if msg != "" {
			dc.fail(path, n.off, "%s", msg)
			return
		}
		*dst = v
	}
}

func (dc *decoder) port(path string, n *node) Port {
	var p Port
	dc.object(path, n, []field{
		{"name", true, dc.str(&p.Name)},
		{"port_number", true, func(path string, n *node) {
			// Range is checked by validation, with its own message.
			if v, ok := dc.integer(path, n, math.MinInt32, math.MaxInt32); ok {
				p.PortNumber = int(v)
			}
		}},
		{"protocol", true, dc.str(&p.Protocol)},
		{"url_template", true, dc.str(&p.URLTemplate)},
		{"proxy", false, dc.boolean(&p.Proxy)},
	})
	return p
}

func (dc *decoder) envVar(path string, n *node) EnvVar {
	var e EnvVar
	if n.kind != kindArray || len(n.elems) != 2 {
		dc.fail(path, n.off, "must be a [\"NAME\", \"value\"] pair")
		return e
	}
	dc.offsets[index(path, 0)] = n.elems[0].off
	dc.offsets[index(path, 1)] = n.elems[1].off
	dc.str(&e.Name)(index(path, 0), n.elems[0])
	dc.str(&e.Value)(index(path, 1), n.elems[1])
	return e
}

func (dc *decoder) volume(path string, n *node) Volume {
	var v Volume
	dc.object(path, n, []field{
		{"name", true, dc.str(&v.Name)},
		{"path", true, dc.str(&v.Path)},
		{"read_only", true, dc.boolean(&v.ReadOnly)},
	})
	return v
}
