package docker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTLSEngine talks to an engine of its own that only accepts clients
// with a certificate signed by its CA, as a remote Zoe host would be set up.
func TestTLSEngine(t *testing.T) {
	certs := t.TempDir()
	ca := newCA(t, certs, "ca")
	ca.issue(t, certs, "server", x509.ExtKeyUsageServerAuth)
	ca.issue(t, certs, "client", x509.ExtKeyUsageClientAuth)
	other := newCA(t, certs, "other")
	other.issue(t, certs, "stranger", x509.ExtKeyUsageClientAuth)
	port := freePort(t)
	addr := "tcp://127.0.0.1:" + strconv.Itoa(port)
	good := HostConfig{
		Name: "tls", Address: addr, ExternalAddress: "127.0.0.1", TLS: true,
		TLSCA: filepath.Join(certs, "ca.pem"), TLSCert: filepath.Join(certs, "client.pem"), TLSKey: filepath.Join(certs, "client-key.pem"),
	}
	startEngineWith(t, func(string) (HostConfig, []string) {
		return good, []string{
			"--host", addr, "--tlsverify",
			"--tlscacert", filepath.Join(certs, "ca.pem"),
			"--tlscert", filepath.Join(certs, "server.pem"),
			"--tlskey", filepath.Join(certs, "server-key.pem"),
			"--default-address-pool", "base=10.204.0.0/16,size=24",
		}
	})

	// A client certificate from another CA, and no TLS at all, are refused.
	stranger := good
	stranger.Name, stranger.TLSCert, stranger.TLSKey = "stranger", filepath.Join(certs, "stranger.pem"), filepath.Join(certs, "stranger-key.pem")
	plain := good
	plain.Name, plain.TLS = "plain", false
	b := newTestBackend(t, good, stranger, plain)
	st := b.Check(testContext(t))
	if !st[0].Online || st[0].MilliCores == 0 {
		t.Errorf("TLS host: got online %v (err %q), want online with capacity", st[0].Online, st[0].Err)
	}
	for _, s := range st[1:] {
		if s.Online || s.Err == "" {
			t.Errorf("%s: got online %v err %q, want refused", s.Name, s.Online, s.Err)
		}
	}
}

func TestNewTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	h := HostConfig{Name: "h", Address: "tcp://127.0.0.1:2376", TLS: true,
		TLSCA: filepath.Join(dir, "ca.pem"), TLSCert: filepath.Join(dir, "client.pem"), TLSKey: filepath.Join(dir, "client-key.pem")}
	tests := []struct {
		name string
		edit func(*HostConfig)
		want string // "" = no error
	}{
		{"all there", func(*HostConfig) {}, ""},
		{"cert missing", func(h *HostConfig) { h.TLSCert = filepath.Join(dir, "nope.pem") }, "host h: tls_cert: open " + filepath.Join(dir, "nope.pem")},
		{"CA not set", func(h *HostConfig) { h.TLSCA = "" }, "host h: tls_ca: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h
			tt.edit(&h)
			b, err := New([]HostConfig{h}, Options{Deployment: "d"})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				b.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	h := HostConfig{Name: "h", Address: "unix:///x.sock"}
	tests := []struct {
		name  string
		hosts []HostConfig
		opts  Options
		want  string
	}{
		{"no deployment", []HostConfig{h}, Options{}, "deployment name is empty"},
		{"no hosts", nil, Options{Deployment: "d"}, "no hosts"},
		{"twice", []HostConfig{h, h}, Options{Deployment: "d"}, "host h defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.hosts, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, dir, name string) testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	return testCA{cert: cert, key: key}
}

// issue writes <name>.pem and <name>-key.pem, valid for 127.0.0.1.
func (ca testCA) issue(t *testing.T, dir, name string, usage x509.ExtKeyUsage) {
	t.Helper()
	key := newKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+"-key.pem"), "PRIVATE KEY", pk)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
