package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/zoe-analytics/zoe/store"
)

// secEscapes are descriptions that try to leave the container's sandbox,
// each with the field the refusal must name. Built from the harness's
// custom description by replacing one piece of it.
var secEscapes = []struct {
	name, from, to, field string
}{
	{"host mount of /", `"volumes": []`, `"volumes": [{"name": "root", "path": "/", "read_only": false}]`, "services[0].volumes[0]"},
	{"host mount with ..", `"volumes": []`, `"volumes": [{"name": "data", "path": "/srv/data/../../etc", "read_only": true}]`, "services[0].volumes[0]"},
	{"docker socket", `"volumes": []`, `"volumes": [{"name": "docker", "path": "/var/run/docker.sock", "read_only": false}]`, "services[0].volumes[0]"},
	{"workspace of another user", `"volumes": []`, `"volumes": [{"name": "workspace", "path": "/srv/zoe/workspaces/bob", "read_only": false}]`, "services[0].volumes[0]"},
	{"privileged", `"volumes": []`, `"volumes": [], "privileged": true`, "services[0].privileged"},
	{"privileged at the top", `"will_end": false`, `"will_end": false, "privileged": true`, "privileged"},
	{"host network", `"volumes": []`, `"volumes": [], "network": "host"`, "services[0].network"},
	{"another container's network", `"volumes": []`, `"volumes": [], "network": "container:zoe-proxy"`, "services[0].network"},
	{"no network", `"volumes": []`, `"volumes": [], "network": "none"`, "services[0].network"},
	{"network_mode host", `"volumes": []`, `"volumes": [], "network_mode": "host"`, "services[0].network_mode"},
	{"host PID namespace", `"volumes": []`, `"volumes": [], "pid": "host"`, "services[0].pid"},
	{"host IPC namespace", `"volumes": []`, `"volumes": [], "ipc": "host"`, "services[0].ipc"},
	{"capabilities", `"volumes": []`, `"volumes": [], "cap_add": ["SYS_ADMIN"]`, "services[0].cap_add"},
	{"devices", `"volumes": []`, `"volumes": [], "devices": ["/dev/sda:/dev/sda"]`, "services[0].devices"},
	{"security options", `"volumes": []`, `"volumes": [], "security_opt": ["apparmor=unconfined"]`, "services[0].security_opt"},
	{"runtime", `"volumes": []`, `"volumes": [], "runtime": "nvidia"`, "services[0].runtime"},
	{"user namespace", `"volumes": []`, `"volumes": [], "userns_mode": "host"`, "services[0].userns_mode"},
	{"NVIDIA devices", `"environment": []`, `"environment": [["NVIDIA_VISIBLE_DEVICES", "all"]]`, "services[0].environment[0][0]"},
	{"NVIDIA in lower case", `"environment": []`, `"environment": [["nvidia_driver_capabilities", "all"]]`, "services[0].environment[0][0]"},
	{"privileged inside resources", `"cores": {"min": 0.1, "max": null}`, `"cores": {"min": 0.1, "max": null}, "privileged": true`, "services[0].resources.privileged"},
}

// TestSecurityDescriptions submits every escape by the API, the upload
// form's text field and its file: each is refused naming the field, and
// nothing is stored. A shop ZApp's parameter that tries the same is just
// a string in the container's environment.
func TestSecurityDescriptions(t *testing.T) {
	e := newSecEnv(t)
	alice := e.signIn("alice")
	before := e.state()
	for _, tc := range secEscapes {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(apiCustomZApp, tc.from) {
				t.Fatalf("the base description has no %q", tc.from)
			}
			desc := strings.Replace(apiCustomZApp, tc.from, tc.to, 1)
			res := e.api("alice", http.MethodPost, "/api/v1/executions", `{"description": `+desc+`}`)
			secExpectFieldError(t, "API", res, tc.field)

			alice.get("/executions")
			p := alice.post("/executions/custom", url.Values{"description": {desc}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.text("main"), tc.field) {
				t.Errorf("upload form: got %d, want 422 naming %s (%.300s)", p.status, tc.field, p.text("main"))
			}
			p = alice.upload("/executions/custom", "escape.json", desc)
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.text("main"), tc.field) {
				t.Errorf("upload file: got %d, want 422 naming %s (%.300s)", p.status, tc.field, p.text("main"))
			}
		})
	}
	if diff := cmp.Diff(before, e.state()); diff != "" {
		t.Errorf("state changed (-before +after):\n%s", diff)
	}

	t.Run("a parameter is only a string", func(t *testing.T) {
		// Braces are templates in parameters, so the injection does
		// without objects.
		inject := `hi"], ["NVIDIA_VISIBLE_DEVICES", "all"]], "volumes": [["root", "/", false]], "network": "host", "privileged": true, "cap_add": ["SYS_ADMIN"], "x": [["`
		alice.get("/shop/web-0")
		form := alice.executionID(alice.post("/shop/web-0/start", url.Values{"params.GREETING": {inject}}))
		res := e.api("alice", http.MethodPost, "/api/v1/executions", `{"zapp": "web-0", "parameters": {"GREETING": `+strconvQuote(inject)+`}}`)
		if res.status != http.StatusCreated {
			t.Fatalf("API start: got %d (%s)", res.status, res.body)
		}
		var created struct {
			ID int64 `json:"id"`
		}
		res.json(t, &created)
		for _, id := range []int64{form, created.ID} {
			e.waitStatus(id, store.StatusRunning)
			secCheckSandbox(t, e, id, inject)
		}
	})
}

// secCheckSandbox inspects the containers of execution id on the engine:
// unprivileged, no added capabilities or devices, private namespaces,
// only the workspace mounted, and GREETING exactly as typed.
func secCheckSandbox(t *testing.T, e *secEnv, id int64, greeting string) {
	t.Helper()
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.WithHost(os.Getenv("ZOE_TEST_DOCKER_HOST")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	svcs, err := e.st.ExecutionServices(ctx, id)
	if err != nil || len(svcs) == 0 {
		t.Fatalf("services of %d: %v %v", id, svcs, err)
	}
	for _, s := range svcs {
		c, err := cli.ContainerInspect(ctx, s.BackendID)
		if err != nil {
			t.Fatalf("inspect %s: %v", s.Name, err)
		}
		hc := c.HostConfig
		if hc.Privileged || len(hc.CapAdd) > 0 || len(hc.Devices) > 0 || len(hc.DeviceRequests) > 0 || !slices.Equal(hc.SecurityOpt, []string{"no-new-privileges"}) {
			t.Errorf("%s: privileged %v, cap_add %v, devices %v %v, security_opt %v: want none of them, and only no-new-privileges", s.Name, hc.Privileged, hc.CapAdd, hc.Devices, hc.DeviceRequests, hc.SecurityOpt)
		}
		if hc.NetworkMode.IsHost() || hc.NetworkMode.IsContainer() || hc.PidMode.IsHost() || hc.IpcMode.IsHost() || hc.UsernsMode.IsHost() {
			t.Errorf("%s: network %q, pid %q, ipc %q, userns %q: want private", s.Name, hc.NetworkMode, hc.PidMode, hc.IpcMode, hc.UsernsMode)
		}
		if len(hc.Binds) > 0 {
			t.Errorf("%s: binds %v, want none", s.Name, hc.Binds)
		}
		for _, m := range c.Mounts {
			if m.Destination != "/mnt/workspace" || !strings.HasSuffix(m.Source, "/alice") {
				t.Errorf("%s: mount %s → %s, want only alice's workspace at /mnt/workspace", s.Name, m.Source, m.Destination)
			}
		}
		var got string
		for _, kv := range c.Config.Env {
			name, value, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(strings.ToUpper(name), "NVIDIA_") {
				t.Errorf("%s: environment has %s", s.Name, kv)
			}
			if name == "GREETING" {
				got = value
			}
		}
		if got != greeting {
			t.Errorf("%s: GREETING: got %q, want %q", s.Name, got, greeting)
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// upload sends a file in a multipart form, with the CSRF token.
func (c *portalClient) upload(path, name, content string) page {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("csrf_token", c.csrf); err != nil {
		c.t.Fatal(err)
	}
	f, err := w.CreateFormFile("file", name)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		c.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.e.ts.URL+path, &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}
