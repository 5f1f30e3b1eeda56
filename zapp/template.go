package zapp

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Template variables. DNSNamePrefix is followed by an instance name or by
// "self".
const (
	VarExecutionID    = "execution_id"
	VarExecutionName  = "execution_name"
	VarUserName       = "user_name"
	VarDeploymentName = "deployment_name"
	VarIPPort         = "ip_port"
	VarProxyPath      = "proxy_path"
	DNSNamePrefix     = "dns_name#"
)

// ErrTemplate reports a malformed template or an unknown variable.
var ErrTemplate = errors.New("invalid template")

// Vars maps variable names (without braces) to their values.
type Vars map[string]string

// part is a piece of a template: literal text or a variable reference.
type part struct {
	text  string
	isVar bool
	off   int
}

// splitTemplate parses the Python str.format subset the original used:
// "{name}" is a variable, "{{" and "}}" are literal braces.
func splitTemplate(tmpl string) ([]part, error) {
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(tmpl); i++ {
		switch c := tmpl[i]; c {
		case '{':
			if i+1 < len(tmpl) && tmpl[i+1] == '{' {
				lit.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexAny(tmpl[i+1:], "{}")
			if end < 0 || tmpl[i+1+end] == '{' {
				return nil, fmt.Errorf("%w: unclosed \"{\" at offset %d (write \"{{\" for a literal brace)", ErrTemplate, i)
			}
			name := tmpl[i+1 : i+1+end]
			if name == "" {
				return nil, fmt.Errorf("%w: empty \"{}\" at offset %d (write \"{{}}\" for literal braces)", ErrTemplate, i)
			}
			if lit.Len() > 0 {
				parts = append(parts, part{text: lit.String()})
				lit.Reset()
			}
			parts = append(parts, part{text: name, isVar: true, off: i})
			i += end + 1
		case '}':
			if i+1 < len(tmpl) && tmpl[i+1] == '}' {
				lit.WriteByte('}')
				i++
				continue
			}
			return nil, fmt.Errorf("%w: single \"}\" at offset %d (write \"}}\" for a literal brace)", ErrTemplate, i)
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, part{text: lit.String()})
	}
	return parts, nil
}

// Expand replaces the variables of tmpl with their values. A variable
// missing from vars is an error naming the known ones, so a template that
// passed validation fails only if the caller forgot to set a variable.
func Expand(tmpl string, vars Vars) (string, error) {
	parts, err := splitTemplate(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if !p.isVar {
			b.WriteString(p.text)
			continue
		}
		v, ok := vars[p.text]
		if !ok {
			known := make([]string, 0, len(vars))
			for k := range vars {
				known = append(known, "{"+k+"}")
			}
			sort.Strings(known)
			return "", fmt.Errorf("%w: unknown variable {%s} (known: %s)", ErrTemplate, p.text, strings.Join(known, ", "))
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// templateUse says where a template appears, which decides the variables
// it may use.
type templateUse int

const (
	useEnv templateUse = iota
	useCommand
	useURL
)

// checkTemplate returns the problem with tmpl, or "" when it only uses
// variables that will exist: instances names the instances of the
// description.
func checkTemplate(tmpl string, use templateUse, instances map[string]bool) string {
	parts, err := splitTemplate(tmpl)
	if err != nil {
		return strings.TrimPrefix(err.Error(), ErrTemplate.Error()+": ")
	}
	for _, p := range parts {
		if !p.isVar {
			continue
		}
		switch name := p.text; {
		case name == VarExecutionID, name == VarExecutionName, name == VarUserName,
			name == VarDeploymentName, name == DNSNamePrefix+"self", name == VarProxyPath:
		case name == VarIPPort:
			if use != useURL {
				return "{ip_port} is only available in url_template"
			}
		case strings.HasPrefix(name, DNSNamePrefix):
			inst := strings.TrimPrefix(name, DNSNamePrefix)
			if !instances[inst] {
				return fmt.Sprintf("{%s}: this description has no instance named %q (instances are <service name><n>, e.g. %q)", name, inst, exampleInstance(instances))
			}
		default:
			return fmt.Sprintf("unknown variable {%s} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}%s; write {{ and }} for literal braces)",
				name, map[bool]string{true: ", {ip_port}"}[use == useURL])
		}
	}
	return ""
}

func exampleInstance(instances map[string]bool) string {
	names := make([]string, 0, len(instances))
	for n := range instances {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "web0"
	}
	return names[0]
}
