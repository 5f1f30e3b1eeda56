package docker

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seedHosts is the sample of the original installation guide, verbatim.
const seedHosts = `[DEFAULT]
use_tls: no
tls_cert: /mnt/cephfs/admin/cert-authority/container-router/cert.pem
tls_key: /mnt/cephfs/admin/cert-authority/container-router/key.pem
tls_ca: /mnt/cephfs/admin/cert-authority/ca.pem

[foo]
address: localhost:2375
external_address: 192.168.45.42

[bar]
docker_address: 192.168.47.5:2375
external_address: 192.168.47.5
use_tls: yes

[baz]
docker_address: 192.168.47.50:2375
external_address: 192.168.47.50
use_tls: yes
labels: gpu,ssd
`

func TestParseHostsFile(t *testing.T) {
	const (
		cert = "/mnt/cephfs/admin/cert-authority/container-router/cert.pem"
		key  = "/mnt/cephfs/admin/cert-authority/container-router/key.pem"
		ca   = "/mnt/cephfs/admin/cert-authority/ca.pem"
	)
	tests := []struct {
		name string
		in   string
		want []HostConfig
	}{
		{
			name: "seed sample",
			in:   seedHosts,
			want: []HostConfig{
				{Name: "foo", Address: "tcp://localhost:2375", ExternalAddress: "192.168.45.42"},
				{Name: "bar", Address: "tcp://192.168.47.5:2375", ExternalAddress: "192.168.47.5", TLS: true, TLSCert: cert, TLSKey: key, TLSCA: ca},
				{Name: "baz", Address: "tcp://192.168.47.50:2375", ExternalAddress: "192.168.47.50", TLS: true, TLSCert: cert, TLSKey: key, TLSCA: ca, Labels: []string{"gpu", "ssd"}},
			},
		},
		{
			name: "defaults inherited and overridden, = and comments",
			in: `# hosts
; another comment
[DEFAULT]
labels = ssd
external_address = 10.0.0.9

[a]
docker_address = unix:///run/a.sock   ; inline comment
[b]
DOCKER_ADDRESS: /run/b#1.sock
labels: gpu , , gpu,big
external_address: 10.0.0.2
use_tls = false
`,
			want: []HostConfig{
				{Name: "a", Address: "unix:///run/a.sock", ExternalAddress: "10.0.0.9", Labels: []string{"ssd"}},
				{Name: "b", Address: "unix:///run/b#1.sock", ExternalAddress: "10.0.0.2", Labels: []string{"gpu", "big"}},
			},
		},
		{
			name: "external address defaults",
			in: `[u]
docker_address: unix:///var/run/docker.sock
[t]
docker_address: tcp://node7:2376
`,
			want: []HostConfig{
				{Name: "u", Address: "unix:///var/run/docker.sock", ExternalAddress: "127.0.0.1"},
				{Name: "t", Address: "tcp://node7:2376", ExternalAddress: "node7"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHostsFile(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("ParseHostsFile: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("hosts (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseHostsFileErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the error must contain this
	}{
		{"empty", "# nothing\n", "no host sections"},
		{"only defaults", "[DEFAULT]\nuse_tls: no\n", "no host sections"},
		{"key outside section", "use_tls: no\n[a]\n", "line 1: key use_tls outside any section"},
		{"missing address", "[DEFAULT]\nuse_tls: no\n\n[a]\nexternal_address: 1.2.3.4\n", "line 4: [a] docker_address: missing"},
		{"unknown key", "[a]\ndocker_address: h:1\ndocker_adress: h:2\n", "line 3: [a] docker_adress: unknown key"},
		{"duplicate key", "[a]\ndocker_address: h:1\ndocker_address: h:2\n", "line 3: [a] docker_address: already set on line 2"},
		{"duplicate section", "[a]\ndocker_address: h:1\n[a]\n", "line 3: section [a] already defined on line 1"},
		{"bad bool", "[a]\ndocker_address: h:1\nuse_tls: maybe\n", `line 3: [a] use_tls: want yes or no, got "maybe"`},
		{"bad bool in defaults", "[DEFAULT]\nuse_tls: si\n[a]\ndocker_address: h:1\n", `line 2: [a] use_tls: want yes or no, got "si"`},
		{"tls without cert", "[a]\ndocker_address: h:1\nuse_tls: yes\ntls_key: k\ntls_ca: c\n", "line 1: [a] tls_cert: missing (use_tls is on)"},
		{"tls on unix", "[a]\ndocker_address: unix:///x.sock\nuse_tls: yes\n", "TLS needs a tcp address"},
		{"no port", "[a]\ndocker_address: node1\n", "line 2: [a] docker_address: tcp://node1: want host:port"},
		{"bad scheme", "[a]\ndocker_address: ssh://node1:22\n", "scheme ssh not supported"},
		{"address conflict", "[a]\ndocker_address: h:1\naddress: h:2\n", "line 3: [a] address: conflicts with docker_address on line 2"},
		{"no separator", "[a]\ndocker_address h:1\n", "line 2: want key: value"},
		{"unclosed header", "[a\n", "line 1: section header"},
		{"space in name", "[a b]\n", "line 1: section [a b]: a host name may not contain spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHostsFile(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLocalHost(t *testing.T) {
	tests := []struct {
		name, dockerHost string
		want             HostConfig
	}{
		{"default socket", "", HostConfig{Name: "local", Address: "unix:///var/run/docker.sock", ExternalAddress: "127.0.0.1"}},
		{"DOCKER_HOST unix", "unix:///tmp/d.sock", HostConfig{Name: "local", Address: "unix:///tmp/d.sock", ExternalAddress: "127.0.0.1"}},
		{"DOCKER_HOST tcp", "tcp://10.1.2.3:2375", HostConfig{Name: "local", Address: "tcp://10.1.2.3:2375", ExternalAddress: "10.1.2.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tt.dockerHost)
			t.Setenv("DOCKER_CERT_PATH", "")
			if d := cmp.Diff(tt.want, LocalHost()); d != "" {
				t.Errorf("LocalHost (-want +got):\n%s", d)
			}
		})
	}
}

func TestBindIP(t *testing.T) {
	for _, tt := range []struct{ external, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.1.1", "127.0.0.1"},
		{"::1", "127.0.0.1"},
		{"localhost", "127.0.0.1"},
		{"192.168.47.5", "0.0.0.0"},
		{"node7.example.org", "0.0.0.0"},
	} {
		if got := bindIP(tt.external); got != tt.want {
			t.Errorf("bindIP(%q) = %q, want %q", tt.external, got, tt.want)
		}
	}
}
