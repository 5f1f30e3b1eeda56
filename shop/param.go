package shop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zoe-analytics/zoe/zapp"
)

// Parameter kinds: what a parameter changes in the description.
const (
	// KindEnvironment sets the variable Name in every service that defines it.
	KindEnvironment = "environment"
	// KindCommand sets the command of the service Name.
	KindCommand = "command"
	// KindServiceCount sets total_count of the service Name.
	KindServiceCount = "service_count"
)

// Parameter types.
const (
	TypeString  = "string"
	TypeInteger = "integer"
)

// Parameter is a value of the description the user may set on the start
// form. An integer parameter has bounds and a step; Min, Max and Step are
// zero for a string parameter.
type Parameter struct {
	Kind         string
	Name         string
	ReadableName string
	Description  string
	Type         string
	// Default is the value the form starts with; nil (JSON null or no
	// default) keeps the description's own value.
	Default  *string
	Min, Max int64
	Step     int64
}

// Key names the parameter in Request.Params, in error paths
// ("params.<key>") and on the start form: the variable name for an
// environment parameter, "<service>.command" and "<service>.count" for the
// others, so that a service can have both.
func (p Parameter) Key() string {
	switch p.Kind {
	case KindCommand:
		return p.Name + ".command"
	case KindServiceCount:
		return p.Name + ".count"
	}
	return p.Name
}

// Integer reports whether the parameter takes a whole number.
func (p Parameter) Integer() bool { return p.Type == TypeInteger }

// DefaultValue returns the default, or "" when there is none.
func (p Parameter) DefaultValue() string {
	if p.Default == nil {
		return ""
	}
	return *p.Default
}

// decodeParameter strictly decodes one manifest parameter at path.
func decodeParameter(path string, raw json.RawMessage) (Parameter, zapp.Errors) {
	var p Parameter
	var def json.RawMessage
	var has [3]bool // min, max, step present
	errs := decodeObject(path, raw, []field{
		{"kind", true, str(&p.Kind, true)},
		{"name", true, str(&p.Name, true)},
		{"readable_name", false, str(&p.ReadableName, false)},
		{"description", false, str(&p.Description, false)},
		{"type", true, str(&p.Type, true)},
		{"default", false, func(r json.RawMessage) string { def = r; return "" }},
		{"min", false, integer(&p.Min, &has[0])},
		{"max", false, integer(&p.Max, &has[1])},
		{"step", false, integer(&p.Step, &has[2])},
	})
	if len(errs) > 0 {
		return p, errs
	}
	fail := func(key, format string, args ...any) {
		errs = append(errs, zapp.FieldError{Path: join(path, key), Message: fmt.Sprintf(format, args...)})
	}
	switch p.Kind {
	case KindEnvironment, KindCommand, KindServiceCount:
	default:
		fail("kind", "must be %q, %q or %q, got %q", KindEnvironment, KindCommand, KindServiceCount, p.Kind)
	}
	switch p.Type {
	case TypeString:
	case TypeInteger, "int": // "int" is what the original Zoe's code checked
		p.Type = TypeInteger
	default:
		fail("type", "must be %q or %q, got %q", TypeString, TypeInteger, p.Type)
	}
	if p.ReadableName == "" {
		p.ReadableName = p.Name
	}

	switch k := jsonKind(def); k {
	case "nothing", "null":
	case "a string":
		var s string
		_ = json.Unmarshal(def, &s)
		p.Default = &s
	case "a number":
		s := string(bytes.TrimSpace(def))
		p.Default = &s
	default:
		fail("default", "want a string, a number or null, got %s", k)
	}

	if p.Kind == KindServiceCount && p.Type != TypeInteger {
		fail("type", "a service_count parameter must be %q", TypeInteger)
	}
	if p.Type == TypeInteger {
		for i, key := range []string{"min", "max", "step"} {
			if !has[i] {
				fail(key, "required for an integer parameter")
			}
		}
		if has[0] && has[1] && p.Min > p.Max {
			fail("min", "%d exceeds max %d", p.Min, p.Max)
		}
		if has[2] && p.Step <= 0 {
			fail("step", "must be positive, got %d", p.Step)
		}
		if p.Kind == KindServiceCount {
			if has[0] && p.Min < 1 {
				fail("min", "a service needs at least 1 instance, got %d", p.Min)
			}
			if has[1] && p.Max > zapp.MaxInstances {
				fail("max", "must be at most %d instances, got %d", zapp.MaxInstances, p.Max)
			}
		}
		if p.Default != nil && len(errs) == 0 {
			if _, msg := p.parseInt(*p.Default); msg != "" {
				fail("default", "%s", msg)
			}
		}
	} else {
		for i, key := range []string{"min", "max", "step"} {
			if has[i] {
				fail(key, "only integer parameters have bounds")
			}
		}
	}
	return p, errs
}

// parseInt checks an integer value against the bounds; msg says what is
// wrong, as shown next to the form field.
func (p Parameter) parseInt(v string) (n int64, msg string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, "required"
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			if strings.HasPrefix(v, "-") {
				return 0, fmt.Sprintf("%s is below min %d", v, p.Min)
			}
			return 0, fmt.Sprintf("%s exceeds max %d", v, p.Max)
		}
		return 0, fmt.Sprintf("%q is not a whole number", v)
	}
	switch {
	case n < p.Min:
		return n, fmt.Sprintf("%d is below min %d", n, p.Min)
	case n > p.Max:
		return n, fmt.Sprintf("%d exceeds max %d", n, p.Max)
	case p.Step > 0 && (n-p.Min)%p.Step != 0:
		return n, fmt.Sprintf("%d is not min %d plus a multiple of step %d", n, p.Min, p.Step)
	}
	return n, ""
}

// checkAgainst returns what is wrong with p for description d: the
// variable or service it names must exist.
func (p Parameter) checkAgainst(d *zapp.Description) string {
	switch p.Kind {
	case KindEnvironment:
		for _, s := range d.Services {
			for _, e := range s.Environment {
				if e.Name == p.Name {
					return ""
				}
			}
		}
		return fmt.Sprintf("no service of the description defines the environment variable %q", p.Name)
	case KindCommand, KindServiceCount:
		if serviceIndex(d, p.Name) < 0 {
			return fmt.Sprintf("the description has no service named %q (services: %s)", p.Name, serviceNames(d))
		}
	}
	return ""
}

func serviceIndex(d *zapp.Description, name string) int {
	for i := range d.Services {
		if d.Services[i].Name == name {
			return i
		}
	}
	return -1
}

func serviceNames(d *zapp.Description) string {
	names := make([]string, len(d.Services))
	for i, s := range d.Services {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
