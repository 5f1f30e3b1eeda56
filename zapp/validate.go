package zapp

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxInstances bounds total_count so that a typo cannot ask the scheduler
// for a million containers.
const MaxInstances = 1000

var (
	appNameRE     = regexp.MustCompile(`^[@a-zA-Z0-9-]*$`)
	serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*$`)
	envNameRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	volumeNameRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	labelRE       = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:=/-]*$`)
	networkRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
)

// reservedVolumes are mount names Zoe itself uses under /mnt.
var reservedVolumes = map[string]bool{"workspace": true}

type validator struct {
	trust Trust
	errs  Errors
	bad   map[string]bool // paths that failed to decode, see covered
}

func (v *validator) fail(path, format string, args ...any) {
	if covered(v.bad, path) {
		return
	}
	v.errs = append(v.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// validate checks d. bad lists the paths that Parse could not decode;
// errors there or below would only repeat the decoding error.
func (d *Description) validate(trust Trust, bad map[string]bool) Errors {
	v := &validator{trust: trust, bad: bad}
	if n := utf8.RuneCountInString(d.Name); n < 3 || n > 128 {
		v.fail("name", "must be 3 to 128 characters long, got %d", n)
	} else if !appNameRE.MatchString(d.Name) {
		v.fail("name", "may contain only letters, digits, \"-\" and \"@\", got %q", d.Name)
	}
	if d.Version != FormatVersion {
		v.fail("version", "must be %d, got %d", FormatVersion, d.Version)
	}
	if d.Size < 0 {
		v.fail("size", "must not be negative, got %d", d.Size)
	}
	if len(d.Services) == 0 {
		v.fail("services", "must list at least one service")
		return v.errs
	}

	instances := map[string]bool{}
	owner := map[string]string{} // lower-case instance name -> service path
	seen := map[string]int{}     // lower-case service name -> index
	monitor := false
	for i := range d.Services {
		s := &d.Services[i]
		p := index("services", i)
		// A monitor flag that failed to decode may well be true.
		monitor = monitor || s.Monitor || bad[join(p, "monitor")]
		key := strings.ToLower(s.Name)
		j, dup := seen[key]
		if dup && s.Name != "" {
			v.fail(join(p, "name"), "duplicate service name %q (also services[%d]; names are compared ignoring case because they become host names)", s.Name, j)
		} else {
			seen[key] = i
		}
		if s.TotalCount > 0 && s.TotalCount <= MaxInstances {
			for n := 0; n < s.TotalCount; n++ {
				name := fmt.Sprintf("%s%d", s.Name, n)
				instances[name] = true
				lk := strings.ToLower(name)
				if other, clash := owner[lk]; clash && !dup {
					v.fail(join(p, "name"), "instance %q clashes with an instance of %s; rename one of the services", name, other)
					break
				}
				owner[lk] = p
			}
		}
	}
	if !monitor {
		v.fail("services", "at least one service must have \"monitor\": true")
	}
	for i := range d.Services {
		v.service(index("services", i), &d.Services[i], instances)
	}
	return v.errs
}

func (v *validator) service(p string, s *Service, instances map[string]bool) {
	if n := len(s.Name); n < 3 || n > 16 {
		v.fail(join(p, "name"), "must be 3 to 16 characters long, got %d", utf8.RuneCountInString(s.Name))
	} else if !serviceNameRE.MatchString(s.Name) {
		v.fail(join(p, "name"), "must start with a letter or digit and contain only letters, digits and \"-\", got %q", s.Name)
	}
	if msg := checkImage(s.Image); msg != "" {
		v.fail(join(p, "image"), "%s", msg)
	}
	if s.EssentialCount < 1 {
		v.fail(join(p, "essential_count"), "must be at least 1, got %d", s.EssentialCount)
	}
	switch {
	case s.TotalCount < s.EssentialCount:
		v.fail(join(p, "total_count"), "must be at least essential_count (%d), got %d", s.EssentialCount, s.TotalCount)
	case s.TotalCount > MaxInstances:
		v.fail(join(p, "total_count"), "must be at most %d, got %d", MaxInstances, s.TotalCount)
	}
	if s.Replicas != nil && *s.Replicas < 1 {
		v.fail(join(p, "replicas"), "must be at least 1, got %d", *s.Replicas)
	}
	v.resources(join(p, "resources"), &s.Resources)
	v.ports(join(p, "ports"), s.Ports, instances)
	v.environment(join(p, "environment"), s.Environment, instances)
	v.volumes(join(p, "volumes"), s.Volumes)
	if s.Command != nil {
		v.command(join(p, "command"), *s.Command, instances)
	}
	if s.WorkDir != "" && !strings.HasPrefix(s.WorkDir, "/") {
		v.fail(join(p, "work_dir"), "must be an absolute path, got %q", s.WorkDir)
	}
	v.labels(join(p, "labels"), s.Labels)
	if s.Network != "" {
		v.network(join(p, "network"), s.Network)
	}
}

func (v *validator) resources(p string, r *Resources) {
	mp := join(p, "memory")
	for _, f := range []struct {
		name string
		val  Bytes
	}{{"min", r.Memory.Min}, {"max", r.Memory.Max}} {
		switch {
		case f.val < 0:
			v.fail(join(mp, f.name), "must not be negative, got %d", f.val)
		case f.val > 0 && f.val < KiB:
			v.fail(join(mp, f.name), "%d bytes is less than 1 KiB; write the unit, e.g. \"%dMiB\" (0 or null means no reservation)", f.val, f.val)
		}
	}
	if r.Memory.Max > 0 && r.Memory.Min > r.Memory.Max {
		v.fail(join(mp, "min"), "%s exceeds max %s", r.Memory.Min, r.Memory.Max)
	}
	cp := join(p, "cores")
	for _, f := range []struct {
		name string
		val  MilliCores
	}{{"min", r.Cores.Min}, {"max", r.Cores.Max}} {
		if f.val < 0 {
			v.fail(join(cp, f.name), "must not be negative, got %s", f.val.Cores())
		}
	}
	if r.Cores.Max > 0 && r.Cores.Min > r.Cores.Max {
		v.fail(join(cp, "min"), "%s exceeds max %s", r.Cores.Min, r.Cores.Max)
	}
	if r.Shm < 0 {
		v.fail(join(p, "shm"), "must not be negative, got %d", r.Shm)
	}
}

func (v *validator) ports(p string, ports []Port, instances map[string]bool) {
	seen := map[string]int{}
	for i, port := range ports {
		pp := index(p, i)
		if n := utf8.RuneCountInString(port.Name); n < 3 {
			v.fail(join(pp, "name"), "must be at least 3 characters long, got %d", n)
		}
		if port.PortNumber < 1 || port.PortNumber > 65535 {
			v.fail(join(pp, "port_number"), "must be between 1 and 65535, got %d", port.PortNumber)
		}
		if port.Protocol != "tcp" && port.Protocol != "udp" {
			v.fail(join(pp, "protocol"), "must be \"tcp\" or \"udp\", got %q", port.Protocol)
		}
		key := fmt.Sprintf("%d/%s", port.PortNumber, port.Protocol)
		if j, dup := seen[key]; dup {
			v.fail(join(pp, "port_number"), "duplicate port %s (also %s)", key, index("ports", j))
		} else {
			seen[key] = i
		}
		if msg := checkTemplate(port.URLTemplate, useURL, instances); msg != "" {
			v.fail(join(pp, "url_template"), "%s", msg)
		}
	}
}

func (v *validator) environment(p string, env []EnvVar, instances map[string]bool) {
	seen := map[string]int{}
	for i, e := range env {
		ep := index(p, i)
		switch {
		case !envNameRE.MatchString(e.Name):
			v.fail(index(ep, 0), "invalid variable name %q: use letters, digits and \"_\", not starting with a digit", e.Name)
		case v.trust == TrustUser && strings.HasPrefix(strings.ToUpper(e.Name), "NVIDIA_"):
			// With the NVIDIA runtime these variables hand devices to the container.
			v.fail(index(ep, 0), "%s grants access to GPU devices and may be set only by descriptions from the shop", e.Name)
		}
		if j, dup := seen[e.Name]; dup {
			v.fail(index(ep, 0), "duplicate variable %s (also %s)", e.Name, index("environment", j))
		} else {
			seen[e.Name] = i
		}
		if msg := checkTemplate(e.Value, useEnv, instances); msg != "" {
			v.fail(index(ep, 1), "%s", msg)
		}
	}
}

func (v *validator) volumes(p string, vols []Volume) {
	seen := map[string]int{}
	for i, vol := range vols {
		vp := index(p, i)
		if v.trust == TrustUser {
			v.fail(vp, "host volumes may be declared only by descriptions from the shop; your workspace is mounted at /mnt/workspace")
			continue
		}
		switch {
		case !volumeNameRE.MatchString(vol.Name):
			v.fail(join(vp, "name"), "must contain only letters, digits, \"_\" and \"-\", got %q", vol.Name)
		case reservedVolumes[vol.Name]:
			v.fail(join(vp, "name"), "%q is reserved: Zoe mounts the user's workspace at /mnt/workspace", vol.Name)
		}
		if j, dup := seen[vol.Name]; dup {
			v.fail(join(vp, "name"), "duplicate volume %q (also %s)", vol.Name, index("volumes", j))
		} else {
			seen[vol.Name] = i
		}
		switch {
		case !strings.HasPrefix(vol.Path, "/"):
			v.fail(join(vp, "path"), "must be an absolute path, got %q", vol.Path)
		case hasDotDot(vol.Path):
			v.fail(join(vp, "path"), "must not contain \"..\", got %q", vol.Path)
		}
	}
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

func (v *validator) command(p, cmd string, instances map[string]bool) {
	args, err := SplitCommand(cmd)
	switch {
	case err != nil:
		v.fail(p, "%s", strings.TrimPrefix(err.Error(), ErrCommand.Error()+": "))
		return
	case len(args) == 0:
		v.fail(p, "must not be empty (use null to keep the image's command)")
		return
	}
	for _, a := range args {
		if msg := checkTemplate(a, useCommand, instances); msg != "" {
			v.fail(p, "%s", msg)
			return
		}
	}
}

func (v *validator) labels(p string, labels []string) {
	seen := map[string]int{}
	for i, l := range labels {
		lp := index(p, i)
		if !labelRE.MatchString(l) {
			v.fail(lp, "invalid label %q: use letters, digits and \"_.:=/-\"", l)
		}
		if j, dup := seen[l]; dup {
			v.fail(lp, "duplicate label %q (also %s)", l, index("labels", j))
		} else {
			seen[l] = i
		}
	}
}

func (v *validator) network(p, network string) {
	switch {
	case network == "host" || strings.HasPrefix(network, "container:"):
		v.fail(p, "%q would share the host's or another container's network and is not allowed", network)
	case network == "none" && v.trust == TrustUser:
		v.fail(p, "\"none\" is allowed only in descriptions from the shop")
	case network != "none" && !networkRE.MatchString(network):
		v.fail(p, "invalid network name %q", network)
	}
}
