package shop

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zoe-analytics/zoe/zapp"
)

// Request is what the start form asks of a ZApp.
type Request struct {
	// Params maps parameter keys (Parameter.Key) to the values typed in
	// the form. A
	// parameter left out gets its default; one without a default keeps
	// the description's value.
	Params map[string]string
	// Resources maps service names to the reservation the user asks for;
	// a service left out, or a zero field, keeps the description's value.
	Resources map[string]ServiceResources
	// Limits are the site's ceilings, used where the description sets no
	// max of its own; zero means no ceiling.
	Limits Limits
}

// ServiceResources is the reservation of one instance of a service.
type ServiceResources struct {
	Memory     zapp.Bytes
	MilliCores zapp.MilliCores
}

// Limits are a site's per-instance ceilings (the original's
// max-memory-limit and max-core-limit).
type Limits struct {
	Memory zapp.Bytes
	Cores  zapp.MilliCores
}

// Instantiate returns a new description made from the ZApp's template and
// the request, validated with the shop's trust rules. The template itself
// is never changed.
//
//   - environment parameters set the variable in every service that
//     defines it;
//   - command parameters set that service's command;
//   - service_count parameters set the service's total_count; its
//     essential_count is kept (lowered to the count if it is larger), so
//     elastic instances stay elastic, unlike the original, which made
//     every instance essential;
//   - Resources set memory.min and cores.min (the reservation) between 0
//     and the description's max, or Limits where the description has no
//     max; the description's max stays the container's limit;
//   - the manifest's labels are added to every service's labels, once.
//
// Values are templates like the rest of the description (a command may
// use {proxy_path}). Errors name the form field ("params.KEY",
// "resources.SERVICE.memory"); every problem is reported at once, as
// zapp.Errors.
func (z *ZApp) Instantiate(req Request) (*zapp.Description, error) {
	d := clone(z.Description)
	var errs zapp.Errors
	fail := func(path, format string, args ...any) {
		errs = append(errs, zapp.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	// owners maps description paths changed by the request to the form
	// field that changed them, so validation errors there point at it.
	owners := map[string]string{}

	known := map[string]bool{}
	for _, p := range z.Parameters {
		known[p.Key()] = true
		field := "params." + p.Key()
		v, ok := req.Params[p.Key()]
		if !ok {
			if p.Default == nil {
				continue
			}
			v = *p.Default
		}
		var n int64
		if p.Integer() {
			var msg string
			if n, msg = p.parseInt(v); msg != "" {
				fail(field, "%s", msg)
				continue
			}
			v = strconv.FormatInt(n, 10)
		}
		switch p.Kind {
		case KindEnvironment:
			for i := range d.Services {
				for j := range d.Services[i].Environment {
					if d.Services[i].Environment[j].Name == p.Name {
						d.Services[i].Environment[j].Value = v
						owners[fmt.Sprintf("services[%d].environment[%d][1]", i, j)] = field
					}
				}
			}
		case KindCommand:
			if i := serviceIndex(d, p.Name); i >= 0 {
				cmd := v
				d.Services[i].Command = &cmd
				owners[fmt.Sprintf("services[%d].command", i)] = field
			}
		case KindServiceCount:
			if i := serviceIndex(d, p.Name); i >= 0 {
				s := &d.Services[i]
				s.TotalCount = int(n)
				if s.EssentialCount > s.TotalCount {
					s.EssentialCount = s.TotalCount
				}
				owners[fmt.Sprintf("services[%d].total_count", i)] = field
				owners[fmt.Sprintf("services[%d].essential_count", i)] = field
			}
		}
	}
	for _, name := range sortedKeys(req.Params) {
		if !known[name] {
			fail("params."+name, "this ZApp has no such parameter")
		}
	}

	for _, name := range sortedKeys(req.Resources) {
		r := req.Resources[name]
		i := serviceIndex(d, name)
		if i < 0 {
			fail("resources."+name, "this ZApp has no service %q (services: %s)", name, serviceNames(d))
			continue
		}
		res := &d.Services[i].Resources
		mfield, cfield := "resources."+name+".memory", "resources."+name+".cores"
		if r.Memory != 0 {
			ceiling := ceilingOf(res.Memory.Max, req.Limits.Memory)
			switch {
			case r.Memory < 0:
				fail(mfield, "must not be negative")
			case r.Memory < zapp.MiB:
				fail(mfield, "%s is less than 1 MiB", r.Memory)
			case ceiling > 0 && r.Memory > ceiling:
				fail(mfield, "%s exceeds max %s", r.Memory, ceiling)
			default:
				res.Memory.Min = r.Memory
				owners[fmt.Sprintf("services[%d].resources.memory.min", i)] = mfield
			}
		}
		if r.MilliCores != 0 {
			ceiling := ceilingOf(res.Cores.Max, req.Limits.Cores)
			switch {
			case r.MilliCores < 0:
				fail(cfield, "must not be negative")
			case ceiling > 0 && r.MilliCores > ceiling:
				fail(cfield, "%s exceeds max %s", r.MilliCores, ceiling)
			default:
				res.Cores.Min = r.MilliCores
				owners[fmt.Sprintf("services[%d].resources.cores.min", i)] = cfield
			}
		}
	}

	if len(z.Labels) > 0 {
		for i := range d.Services {
			d.Services[i].Labels = addLabels(d.Services[i].Labels, z.Labels)
		}
	}

	if err := d.Validate(zapp.TrustShop); err != nil {
		var verrs zapp.Errors
		if !errors.As(err, &verrs) {
			return nil, fmt.Errorf("validate %s: %w", z.ID, err)
		}
		for _, fe := range verrs {
			errs = append(errs, attribute(fe, owners))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

// attribute rewrites a validation error at a path the request changed to
// name the form field instead, keeping the description path in the
// message for admins.
func attribute(fe zapp.FieldError, owners map[string]string) zapp.FieldError {
	for path := fe.Path; path != ""; {
		if field, ok := owners[path]; ok {
			return zapp.FieldError{Path: field, Message: fe.Message + " (" + fe.Path + ")"}
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return fe
}

// ceilingOf is the largest reservation a form may ask for: the
// description's max, else the site's limit, whichever is set and smaller.
func ceilingOf[T zapp.Bytes | zapp.MilliCores](descMax, limit T) T {
	switch {
	case descMax > 0 && limit > 0:
		return min(descMax, limit)
	case descMax > 0:
		return descMax
	}
	return limit
}

// addLabels appends the labels of add missing from labels, keeping the
// list flat (the original nested the manifest's list inside it).
func addLabels(labels, add []string) []string {
	out := append([]string(nil), labels...)
	for _, l := range add {
		if !contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clone deep-copies a description so that instances never share slices
// or pointers with the shop's template.
func clone(d *zapp.Description) *zapp.Description {
	c := *d
	c.Services = make([]zapp.Service, len(d.Services))
	for i, s := range d.Services {
		s.Ports = slices.Clone(s.Ports)
		s.Environment = slices.Clone(s.Environment)
		s.Volumes = slices.Clone(s.Volumes)
		s.Labels = slices.Clone(s.Labels)
		if s.Command != nil {
			cmd := *s.Command
			s.Command = &cmd
		}
		if s.Replicas != nil {
			r := *s.Replicas
			s.Replicas = &r
		}
		c.Services[i] = s
	}
	return &c
}
