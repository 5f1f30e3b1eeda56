package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "zoe.conf")
	if err := os.WriteFile(file, []byte("# comment\nlisten = :7000\ndeployment-name = fromfile\nlog-format = json\n\nscheduler-policy = size\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		listen     string
		deployment string
	}{
		{"file only", []string{"--config", file}, nil, ":7000", "fromfile"},
		{"env beats file", []string{"--config", file}, map[string]string{"ZOE_LISTEN": ":7100"}, ":7100", "fromfile"},
		{"flag beats env", []string{"--config", file, "--listen", ":7200"}, map[string]string{"ZOE_LISTEN": ":7100"}, ":7200", "fromfile"},
		{"config file from env", nil, map[string]string{"ZOE_CONFIG": file, "ZOE_DEPLOYMENT_NAME": "x"}, ":7000", "x"},
		{"defaults", nil, nil, ":8080", "prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := loadConfig("serve", tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tt.listen || c.DeploymentName != tt.deployment {
				t.Errorf("got listen %q deployment %q, want %q %q", c.Listen, c.DeploymentName, tt.listen, tt.deployment)
			}
		})
	}
	c, _, _ := loadConfig("serve", []string{"--config", file}, env(nil), &bytes.Buffer{})
	if c.NetworkPool != 2 || !c.SoloNetwork {
		t.Errorf("got backend-network-pool %d, backend-solo-network %v, want 2 and true by default", c.NetworkPool, c.SoloNetwork)
	}
	if c.SchedulerPolicy != "SIZE" || c.LogFormat != "json" {
		t.Errorf("got policy %q format %q, want SIZE json", c.SchedulerPolicy, c.LogFormat)
	}
	if c.WorkspaceDeploymentPath != "fromfile" {
		t.Errorf("got workspace deployment path %q, want the deployment name", c.WorkspaceDeploymentPath)
	}
}

func TestConfigErrorsNameTheOption(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".conf")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args func() []string
		env  map[string]string
		want string
	}{
		{"unknown flag", func() []string { return []string{"--no-such-option", "1"} }, nil, "no-such-option"},
		{"unknown file option", func() []string { return []string{"--config", write("listen = :1\nbogus-option = 3\n")} }, nil, `.conf:2: unknown option "bogus-option"`},
		{"bad file value", func() []string { return []string{"--config", write("fs-group-id = lots\n")} }, nil, "fs-group-id"},
		{"bad env value", func() []string { return nil }, map[string]string{"ZOE_MAX_MEMORY_LIMIT": "huge"}, "ZOE_MAX_MEMORY_LIMIT"},
		{"bad enum flag", func() []string { return []string{"--scheduler-policy", "LIFO"} }, nil, "scheduler-policy"},
		{"bad image pull", func() []string { return []string{"--backend-image-pull", "always"} }, nil, `backend-image-pull="always": must be one of missing, never`},
		{"bad duration", func() []string { return []string{"--shutdown-timeout", "soon"} }, nil, "shutdown-timeout"},
		{"negative pool", func() []string { return []string{"--backend-network-pool", "-1"} }, nil, "backend-network-pool"},
		{"missing file", func() []string { return []string{"--config", filepath.Join(dir, "nope.conf")} }, nil, "nope.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			_, _, err := loadConfig("serve", tt.args(), env(tt.env), &stderr)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want it to name %q", msg, tt.want)
			}
		})
	}
}

func TestConfigDumpMasksSecrets(t *testing.T) {
	c, _, err := loadConfig("config", []string{"--cookie-secret", "s3cret", "--ldap-bind-password", "pw"}, env(map[string]string{"ZOE_ADMIN_PASSWORD": "adminpw"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c.dump(&out)
	for _, s := range []string{"s3cret", "adminpw", "= pw"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("dump shows secret %q:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "cookie-secret = ********") {
		t.Errorf("dump does not show the masked cookie-secret:\n%s", out.String())
	}
}

func TestServeHelpListsEveryOption(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"serve", "--help"}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("got exit %d, want 0", code)
	}
	for _, o := range options() {
		if !strings.Contains(stderr.String(), "-"+o.name) || !strings.Contains(stderr.String(), envName(o.name)) {
			t.Errorf("--help does not document %s (%s)", o.name, envName(o.name))
		}
	}
}
