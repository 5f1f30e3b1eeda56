package docker

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/docker/client"
)

// HostConfig is how to reach one Docker engine.
type HostConfig struct {
	Name            string // the section name; it identifies the host everywhere
	Address         string // unix:///path or tcp://host:port
	ExternalAddress string // what users connect to for published ports
	TLS             bool
	TLSCert         string
	TLSKey          string
	TLSCA           string
	Labels          []string
}

// hostKeys are the keys a host section may set. Anything else is refused so
// that a typo (docker_adress) does not silently drop a setting.
func hostKeys() []string {
	return []string{"docker_address", "address", "external_address", "use_tls", "tls_cert", "tls_key", "tls_ca", "labels"}
}

type iniValue struct {
	value string
	line  int
}

type iniSection struct {
	name string
	line int
	keys map[string]iniValue
}

// ParseHostsFile reads the hosts file of the original Zoe (an INI file as
// Python's configparser reads it):
//
//	[DEFAULT]
//	use_tls: no
//	[h1]
//	docker_address: tcp://10.0.0.1:2376
//	external_address: 10.0.0.1
//	labels: gpu,ssd
//
// Keys in DEFAULT apply to every host unless the host sets them. "address" is
// accepted for "docker_address" because the original documentation uses it.
// An address without a scheme is tcp://. external_address defaults to the
// host part of a tcp address and to 127.0.0.1 for a unix socket.
//
// Unlike the original, which logged and skipped a host with a missing key,
// any problem is an error naming the line, section and key: Zoe refuses to
// start rather than run without a host the administrator configured. The
// TLS files are only required to be named here; New reads them.
func ParseHostsFile(r io.Reader) ([]HostConfig, error) {
	defaults := &iniSection{name: "DEFAULT", keys: map[string]iniValue{}}
	var sections []*iniSection
	cur := (*iniSection)(nil)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: section header %q: missing ]", n, line)
			}
			name := strings.TrimSpace(line[1 : len(line)-1])
			switch {
			case name == "":
				return nil, fmt.Errorf("line %d: empty section name", n)
			case strings.ContainsAny(name, " \t/"):
				return nil, fmt.Errorf("line %d: section [%s]: a host name may not contain spaces or /", n, name)
			case name == "DEFAULT":
				cur = defaults
				continue
			}
			for _, s := range sections {
				if s.name == name {
					return nil, fmt.Errorf("line %d: section [%s] already defined on line %d", n, name, s.line)
				}
			}
			cur = &iniSection{name: name, line: n, keys: map[string]iniValue{}}
			sections = append(sections, cur)
			continue
		}
		i := strings.IndexAny(line, ":=")
		if i < 0 || strings.ContainsAny(strings.TrimSpace(line[:i]), " \t") {
			return nil, fmt.Errorf("line %d: want key: value or key = value, got %q", n, line)
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		val := strings.TrimSpace(line[i+1:])
		if cur == nil {
			return nil, fmt.Errorf("line %d: key %s outside any section", n, key)
		}
		if known := hostKeys(); !slices.Contains(known, key) {
			return nil, fmt.Errorf("line %d: [%s] %s: unknown key (known: %s)", n, cur.name, key, strings.Join(known, ", "))
		}
		if prev, ok := cur.keys[key]; ok {
			return nil, fmt.Errorf("line %d: [%s] %s: already set on line %d", n, cur.name, key, prev.line)
		}
		cur.keys[key] = iniValue{value: val, line: n}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	if len(sections) == 0 {
		return nil, fmt.Errorf("no host sections (a [name] per Docker engine)")
	}
	hosts := make([]HostConfig, 0, len(sections))
	for _, s := range sections {
		h, err := s.host(defaults)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// stripComment drops full-line comments and inline comments that follow
// whitespace, so that a # inside a path is kept.
func stripComment(line string) string {
	t := strings.TrimSpace(line)
	if strings.HasPrefix(t, "#") || strings.HasPrefix(t, ";") {
		return ""
	}
	for i := 1; i < len(line); i++ {
		if (line[i] == '#' || line[i] == ';') && (line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

func (s *iniSection) get(defaults *iniSection, key string) (iniValue, bool) {
	if v, ok := s.keys[key]; ok {
		return v, true
	}
	v, ok := defaults.keys[key]
	return v, ok
}

func (s *iniSection) host(defaults *iniSection) (HostConfig, error) {
	h := HostConfig{Name: s.name}
	addr, ok := s.get(defaults, "docker_address")
	if alt, altOK := s.get(defaults, "address"); altOK {
		if ok && alt.value != addr.value {
			return h, fmt.Errorf("line %d: [%s] address: conflicts with docker_address on line %d", alt.line, s.name, addr.line)
		}
		addr, ok = alt, true
	}
	if !ok || addr.value == "" {
		return h, fmt.Errorf("line %d: [%s] docker_address: missing", s.line, s.name)
	}
	a, err := normalizeAddress(addr.value)
	if err != nil {
		return h, fmt.Errorf("line %d: [%s] docker_address: %w", addr.line, s.name, err)
	}
	h.Address = a
	if ext, ok := s.get(defaults, "external_address"); ok && ext.value != "" {
		h.ExternalAddress = ext.value
	} else {
		h.ExternalAddress = defaultExternal(a)
	}
	if v, ok := s.get(defaults, "use_tls"); ok {
		b, err := parseBool(v.value)
		if err != nil {
			return h, fmt.Errorf("line %d: [%s] use_tls: %w", v.line, s.name, err)
		}
		h.TLS = b
	}
	if h.TLS {
		if strings.HasPrefix(h.Address, "unix://") {
			return h, fmt.Errorf("line %d: [%s] use_tls: TLS needs a tcp address, not %s", s.line, s.name, h.Address)
		}
		for _, f := range []struct {
			key string
			dst *string
		}{{"tls_cert", &h.TLSCert}, {"tls_key", &h.TLSKey}, {"tls_ca", &h.TLSCA}} {
			v, ok := s.get(defaults, f.key)
			if !ok || v.value == "" {
				return h, fmt.Errorf("line %d: [%s] %s: missing (use_tls is on)", s.line, s.name, f.key)
			}
			*f.dst = v.value
		}
	}
	if v, ok := s.get(defaults, "labels"); ok {
		h.Labels = splitLabels(v.value)
	}
	return h, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, got %q", s)
}

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// normalizeAddress accepts what the original accepted (host:port, tcp://,
// unix://) plus a bare socket path, and returns a URL the client takes.
func normalizeAddress(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, "/"):
		s = "unix://" + s
	case !strings.Contains(s, "://"):
		s = "tcp://" + s
	}
	u, err := client.ParseHostURL(s)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "unix":
		if u.Host == "" {
			return "", fmt.Errorf("%s: missing socket path", s)
		}
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return "", fmt.Errorf("%s: want host:port", s)
		}
	default:
		return "", fmt.Errorf("%s: scheme %s not supported (use tcp:// or unix://)", s, u.Scheme)
	}
	return s, nil
}

func defaultExternal(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || u.Scheme == "unix" {
		return "127.0.0.1"
	}
	if h, _, err := net.SplitHostPort(u.Host); err == nil && h != "" {
		return h
	}
	return "127.0.0.1"
}

// LocalHost is the engine Zoe uses when there is no hosts file: DOCKER_HOST
// (with DOCKER_CERT_PATH and DOCKER_TLS_VERIFY as the docker command reads
// them) or the default socket, named "local".
func LocalHost() HostConfig {
	addr := os.Getenv(client.EnvOverrideHost)
	if addr == "" {
		addr = client.DefaultDockerHost
	}
	if a, err := normalizeAddress(addr); err == nil {
		addr = a
	}
	h := HostConfig{Name: "local", Address: addr, ExternalAddress: defaultExternal(addr)}
	if dir := os.Getenv(client.EnvOverrideCertPath); dir != "" && os.Getenv(client.EnvTLSVerify) != "" {
		h.TLS = true
		h.TLSCA = filepath.Join(dir, "ca.pem")
		h.TLSCert = filepath.Join(dir, "cert.pem")
		h.TLSKey = filepath.Join(dir, "key.pem")
	}
	return h
}
