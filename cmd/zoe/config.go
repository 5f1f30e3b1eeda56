package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of zoe serve. Precedence, highest
// first: command-line flags, ZOE_* environment variables, the config file
// (option = value, the original Zoe's format), defaults.
type Config struct {
	ConfigFile string

	Listen         string
	DataDir        string
	DB             string
	DeploymentName string
	LogLevel       string
	LogFormat      string

	ZappShopPath            string
	WorkspaceBasePath       string
	WorkspaceDeploymentPath string
	AdditionalVolumes       string
	NetworkName             string
	NetworkPool             int
	SoloNetwork             bool
	FSGroupID               int

	BackendDockerConfigFile string
	HostCheckInterval       time.Duration
	BackendImagePull        string
	BackendPullTimeout      time.Duration

	SchedulerPolicy string
	PlacementPolicy string
	Backfill        bool
	MaxCoreLimit    float64
	MaxMemoryLimit  string

	AuthType         string
	AuthFile         string
	LDAPServerURI    string
	LDAPBindUser     string
	LDAPBindPassword string
	LDAPBaseDN       string
	LDAPAdminGID     string
	LDAPUserGID      string
	LDAPGuestGID     string
	LDAPGroupName    string
	CookieSecret     string
	AdminPassword    string
	SecureCookies    string

	ProxyListen      string
	IdleTimeout      time.Duration
	GuestIdleTimeout time.Duration
	AdminIdleTimeout time.Duration
	ProxyBaseURL     string
	ProxyTarget      string
	PublicURL        string

	ShutdownTimeout time.Duration
}

// option describes one configuration option: its name (also the flag, the
// config-file key and, as ZOE_NAME_IN_CAPS, the environment variable), its
// default, its help text and how to parse it into the Config.
type option struct {
	name   string
	def    string
	usage  string
	secret bool
	set    func(c *Config, v string) error
	get    func(c *Config) string
}

func str(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error { *p(c) = v; return nil },
		func(c *Config) string { return *p(c) }
}

func oneOf(p func(*Config) *string, allowed ...string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			for _, a := range allowed {
				if strings.EqualFold(v, a) {
					*p(c) = a
					return nil
				}
			}
			return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
		},
		func(c *Config) string { return *p(c) }
}

func integer(p func(*Config) *int) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return errors.New("must be an integer")
			}
			*p(c) = n
			return nil
		},
		func(c *Config) string { return strconv.Itoa(*p(c)) }
}

// count is integer for quantities that cannot be negative.
func count(p func(*Config) *int) (func(*Config, string) error, func(*Config) string) {
	set, get := integer(p)
	return func(c *Config, v string) error {
		if err := set(c, v); err != nil {
			return err
		}
		if *p(c) < 0 {
			return errors.New("must not be negative")
		}
		return nil
	}, get
}

func float(p func(*Config) *float64) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 {
				return errors.New("must be a non-negative number")
			}
			*p(c) = f
			return nil
		},
		func(c *Config) string { return strconv.FormatFloat(*p(c), 'f', -1, 64) }
}

func boolean(p func(*Config) *bool) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return errors.New("must be true or false")
			}
			*p(c) = b
			return nil
		},
		func(c *Config) string { return strconv.FormatBool(*p(c)) }
}

func duration(p func(*Config) *time.Duration) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				return errors.New("must be a duration such as 30s or 5m")
			}
			*p(c) = d
			return nil
		},
		func(c *Config) string { return p(c).String() }
}

func opt(name, def, usage string, fns ...any) option {
	o := option{name: name, def: def, usage: usage}
	o.set = fns[0].(func(*Config, string) error)
	o.get = fns[1].(func(*Config) string)
	return o
}

func secret(o option) option { o.secret = true; return o }

func pair[A, B any](a A, b B) []any { return []any{a, b} }

// options lists every option of zoe serve, in the order --help shows them.
func options() []option {
	return []option{
		opt("listen", ":8080", "address the portal and the JSON API listen on", pair(str(func(c *Config) *string { return &c.Listen }))...),
		opt("data-dir", "zoe-data", "directory for the embedded database, generated secrets and default workspaces", pair(str(func(c *Config) *string { return &c.DataDir }))...),
		opt("db", "", "database URL: postgres://user:pass@host/db for PostgreSQL; empty for the embedded SQLite file <data-dir>/zoe.db", pair(str(func(c *Config) *string { return &c.DB }))...),
		opt("deployment-name", "prod", "name of this deployment, used in container names and labels; several deployments can share engines", pair(str(func(c *Config) *string { return &c.DeploymentName }))...),
		opt("log-level", "info", "log level: debug, info, warn or error", pair(oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error"))...),
		opt("log-format", "text", "log format: text or json", pair(oneOf(func(c *Config) *string { return &c.LogFormat }, "text", "json"))...),
		opt("zapp-shop-path", "/var/lib/zoe-apps", "directory of the ZApp shop (one folder with a manifest.json per ZApp repository)", pair(str(func(c *Config) *string { return &c.ZappShopPath }))...),
		opt("workspace-base-path", "", "base directory of user workspaces (mounted at /mnt/workspace); empty for <data-dir>/workspaces", pair(str(func(c *Config) *string { return &c.WorkspaceBasePath }))...),
		opt("workspace-deployment-path", "", "sub-directory of workspace-base-path for this deployment; empty for the deployment name", pair(str(func(c *Config) *string { return &c.WorkspaceDeploymentPath }))...),
		opt("additional-volumes", "", "host directories mounted read-only in every container, as /host/path:name,... (at /mnt/name)", pair(str(func(c *Config) *string { return &c.AdditionalVolumes }))...),
		opt("overlay-network-name", "zoe", "Docker network shared by executions when the back-end has several hosts", pair(str(func(c *Config) *string { return &c.NetworkName }))...),
		opt("fs-group-id", "5001", "group id passed to containers as ZOE_GID", pair(integer(func(c *Config) *int { return &c.FSGroupID }))...),
		opt("backend-docker-config-file", "", "hosts file (INI) listing the Docker engines; empty for the local engine (DOCKER_HOST or the default socket)", pair(str(func(c *Config) *string { return &c.BackendDockerConfigFile }))...),
		opt("backend-image-pull", "missing", "pull an image a host lacks when a service is started there (missing), or fail with an error naming image and host (never)", pair(oneOf(func(c *Config) *string { return &c.BackendImagePull }, "missing", "never"))...),
		opt("backend-image-pull-timeout", "10m", "longest one image pull may take", pair(duration(func(c *Config) *time.Duration { return &c.BackendPullTimeout }))...),
		opt("backend-network-pool", "2", "ready bridge networks kept on each host, so that a one-host execution claims one instead of waiting for its own to be made; 0 makes each at launch", pair(count(func(c *Config) *int { return &c.NetworkPool }))...),
		opt("backend-solo-network", "true", "one-container executions share one bridge per host whose containers cannot reach each other, made once, instead of a bridge each; false gives each its own", pair(boolean(func(c *Config) *bool { return &c.SoloNetwork }))...),
		opt("host-check-interval", "10s", "how often each Docker engine is checked and re-synchronised", pair(duration(func(c *Config) *time.Duration { return &c.HostCheckInterval }))...),
		opt("scheduler-policy", "FIFO", "queue order: FIFO, SIZE or DYNSIZE", pair(oneOf(func(c *Config) *string { return &c.SchedulerPolicy }, "FIFO", "SIZE", "DYNSIZE"))...),
		opt("placement-policy", "average", "placement of services on hosts: average (spread), waterfill (pack) or random", pair(oneOf(func(c *Config) *string { return &c.PlacementPolicy }, "average", "waterfill", "random"))...),
		opt("scheduler-backfill", "true", "let later requests that fit start while the head of the queue waits", pair(boolean(func(c *Config) *bool { return &c.Backfill }))...),
		opt("max-core-limit", "16", "largest number of cores one service may reserve", pair(float(func(c *Config) *float64 { return &c.MaxCoreLimit }))...),
		opt("max-memory-limit", "64GiB", "largest memory one service may reserve (bytes or e.g. 64GiB)", pair(memory(func(c *Config) *string { return &c.MaxMemoryLimit }))...),
		opt("auth-type", "builtin", "sign-in back-end: builtin (accounts in the database), text (auth-file) or ldap", pair(oneOf(func(c *Config) *string { return &c.AuthType }, "builtin", "text", "ldap"))...),
		opt("auth-file", "zoepass.csv", "text file of username,password,role for auth-type text", pair(str(func(c *Config) *string { return &c.AuthFile }))...),
		opt("ldap-server-uri", "ldap://localhost", "LDAP server (ldap:// or ldaps://)", pair(str(func(c *Config) *string { return &c.LDAPServerURI }))...),
		opt("ldap-bind-user", "", "DN used to search the directory; empty for anonymous search", pair(str(func(c *Config) *string { return &c.LDAPBindUser }))...),
		secret(opt("ldap-bind-password", "", "password of ldap-bind-user", pair(str(func(c *Config) *string { return &c.LDAPBindPassword }))...)),
		opt("ldap-base-dn", "", "base DN under which users are searched", pair(str(func(c *Config) *string { return &c.LDAPBaseDN }))...),
		opt("ldap-admin-gid", "", "LDAP group id (gidNumber or group cn) whose members are admins", pair(str(func(c *Config) *string { return &c.LDAPAdminGID }))...),
		opt("ldap-user-gid", "", "LDAP group id whose members are users", pair(str(func(c *Config) *string { return &c.LDAPUserGID }))...),
		opt("ldap-guest-gid", "", "LDAP group id whose members are guests", pair(str(func(c *Config) *string { return &c.LDAPGuestGID }))...),
		opt("ldap-group-name", "", "attribute or group object class used for the group mapping", pair(str(func(c *Config) *string { return &c.LDAPGroupName }))...),
		secret(opt("cookie-secret", "", "secret that signs session cookies; empty to generate one and keep it in the database", pair(str(func(c *Config) *string { return &c.CookieSecret }))...)),
		secret(opt("admin-password", "", "password of the admin account created at first start; empty to generate one and print it once", pair(str(func(c *Config) *string { return &c.AdminPassword }))...)),
		opt("secure-cookies", "auto", "mark cookies Secure: auto (when the request came over TLS), always or never", pair(oneOf(func(c *Config) *string { return &c.SecureCookies }, "auto", "always", "never"))...),
		opt("public-url", "", "URL users reach the portal at (e.g. https://zoe.example.org); empty to derive it from requests", pair(str(func(c *Config) *string { return &c.PublicURL }))...),
		opt("proxy-listen", "", "separate address for the service proxy (its own origin); empty to serve it on the portal's address", pair(str(func(c *Config) *string { return &c.ProxyListen }))...),
		opt("proxy-base-url", "", "URL users reach proxy-listen at, e.g. https://services.zoe.example.org", pair(str(func(c *Config) *string { return &c.ProxyBaseURL }))...),
		opt("proxy-target", "published", "where the proxy reaches services: published (the port the engine published on its host) or container (the container's address; only when Zoe runs beside the engine with a route to its networks)", pair(oneOf(func(c *Config) *string { return &c.ProxyTarget }, "published", "container"))...),
		opt("idle-timeout", "0s", "terminate users' executions whose web interfaces saw no request (and whose activity URLs reported no use) for this long; 0 never; a ZApp's idle_timeout can shorten it", pair(duration(func(c *Config) *time.Duration { return &c.IdleTimeout }))...),
		opt("guest-idle-timeout", "2h", "the same for guests' executions; 0 never", pair(duration(func(c *Config) *time.Duration { return &c.GuestIdleTimeout }))...),
		opt("admin-idle-timeout", "0s", "the same for admins' executions; 0 never", pair(duration(func(c *Config) *time.Duration { return &c.AdminIdleTimeout }))...),
		opt("shutdown-timeout", "15s", "how long in-flight requests may take to finish at shutdown", pair(duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }))...),
	}
}

// memory accepts a size such as 64GiB or a number of bytes and keeps the
// text; serve converts it with the ZApp size rules.
func memory(p func(*Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			if _, err := parseSize(v); err != nil {
				return err
			}
			*p(c) = strings.TrimSpace(v)
			return nil
		},
		func(c *Config) string { return *p(c) }
}

// parseSize parses a 1024-based size ("64GiB", "512M", "1073741824").
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with K, M, G or T (1024-based)", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	return int64(f * mult), nil
}

func envName(option string) string {
	return "ZOE_" + strings.ToUpper(strings.ReplaceAll(option, "-", "_"))
}

// loadConfig builds the effective configuration of a sub-command from its
// arguments, the environment (getenv) and the config file.
func loadConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (*Config, *flag.FlagSet, error) {
	opts := options()
	c := &Config{}
	for _, o := range opts {
		if err := o.set(c, o.def); err != nil {
			panic(fmt.Sprintf("default of %s: %v", o.name, err))
		}
	}
	fs := flag.NewFlagSet("zoe "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "config file of option = value lines (default ./zoe.conf when it exists; env ZOE_CONFIG)")
	flagVals := map[string]*string{}
	for _, o := range opts {
		v := new(string)
		flagVals[o.name] = v
		fs.StringVar(v, o.name, o.def, fmt.Sprintf("%s (env %s)", o.usage, envName(o.name)))
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: zoe %s [options]\n\nOptions (flag > ZOE_* environment > config file > default):\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	byName := map[string]option{}
	for _, o := range opts {
		byName[o.name] = o
	}

	c.ConfigFile = *configFile
	if c.ConfigFile == "" {
		c.ConfigFile = getenv("ZOE_CONFIG")
	}
	if c.ConfigFile == "" {
		if _, err := os.Stat("zoe.conf"); err == nil {
			c.ConfigFile = "zoe.conf"
		}
	}
	if c.ConfigFile != "" {
		if err := applyFile(c, c.ConfigFile, byName); err != nil {
			return nil, fs, err
		}
	}
	for _, o := range opts {
		if v := getenv(envName(o.name)); v != "" {
			if err := o.set(c, v); err != nil {
				return nil, fs, fmt.Errorf("environment %s=%q: %w", envName(o.name), v, err)
			}
		}
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		o, ok := byName[f.Name]
		if !ok || ferr != nil {
			return
		}
		if err := o.set(c, *flagVals[f.Name]); err != nil {
			ferr = fmt.Errorf("flag -%s=%q: %w", f.Name, *flagVals[f.Name], err)
		}
	})
	if ferr != nil {
		return nil, fs, ferr
	}
	if c.WorkspaceBasePath == "" {
		c.WorkspaceBasePath = filepath.Join(c.DataDir, "workspaces")
	}
	if c.WorkspaceDeploymentPath == "" {
		c.WorkspaceDeploymentPath = c.DeploymentName
	}
	return c, fs, nil
}

func applyFile(c *Config, path string, byName map[string]option) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: want option = value, got %q", path, n, line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		o, ok := byName[k]
		if !ok {
			return fmt.Errorf("%s:%d: unknown option %q", path, n, k)
		}
		if err := o.set(c, v); err != nil {
			return fmt.Errorf("%s:%d: option %s = %q: %w", path, n, k, v, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// dump writes the configuration as a config file, secrets masked.
func (c *Config) dump(w io.Writer) {
	opts := options()
	if c.ConfigFile != "" {
		fmt.Fprintf(w, "# config file: %s\n", c.ConfigFile)
	}
	for _, o := range opts {
		v := o.get(c)
		if o.secret && v != "" {
			v = "********"
		}
		fmt.Fprintf(w, "%s = %s\n", o.name, v)
	}
}

func (c *Config) logger(w io.Writer) *slog.Logger {
	lvl := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[c.LogLevel]
	ho := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	c, _, err := loadConfig("config", args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "zoe config:", err)
		return 2
	}
	c.dump(stdout)
	return 0
}
