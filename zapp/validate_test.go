package zapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// base is a minimal valid description; cases mutate a decoded copy.
const base = `{
  "name": "app", "version": 3, "will_end": false, "size": 0,
  "services": [{
    "name": "web", "image": "zoe/busybox:test", "monitor": true,
    "essential_count": 1, "total_count": 1, "startup_order": 0,
    "resources": {"memory": {"min": "512MiB", "max": "1GiB"}, "cores": {"min": 0.5, "max": 1}},
    "ports": [{"name": "http", "port_number": 8080, "protocol": "tcp", "url_template": "http://{ip_port}{proxy_path}", "proxy": true}],
    "environment": [["GREETING", "hello {user_name}"]],
    "volumes": [],
    "command": null
  }]
}`

type obj = map[string]any

func mutated(t *testing.T, change func(d obj, s obj)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(base)))
	dec.UseNumber()
	var d obj
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	change(d, d["services"].([]any)[0].(obj))
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func secondService(d obj, name string) obj {
	var s obj
	b, _ := json.Marshal(d["services"].([]any)[0])
	_ = json.Unmarshal(b, &s)
	s["name"] = name
	s["monitor"] = false
	d["services"] = append(d["services"].([]any), s)
	return s
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		trust  Trust
		change func(d, s obj)
	}{
		{"base", TrustUser, func(d, s obj) {}},
		{"null memory", TrustUser, func(d, s obj) {
			s["resources"] = obj{"memory": obj{"min": nil, "max": nil}, "cores": obj{"min": nil, "max": nil}}
		}},
		{"zero memory and cores", TrustUser, func(d, s obj) {
			s["resources"] = obj{"memory": obj{"min": 0, "max": 0}, "cores": obj{"min": 0, "max": 0}}
		}},
		{"min without max", TrustUser, func(d, s obj) {
			s["resources"] = obj{"memory": obj{"min": "8GiB", "max": nil}, "cores": obj{"min": 4, "max": 0}}
		}},
		{"cores as string", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": "500m", "max": "2"} }},
		{"shm string", TrustUser, func(d, s obj) { s["resources"].(obj)["shm"] = "64MiB" }},
		{"untagged image", TrustUser, func(d, s obj) { s["image"] = "busybox" }},
		{"digest image", TrustUser, func(d, s obj) {
			s["image"] = "busybox@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c"
		}},
		{"labels from user", TrustUser, func(d, s obj) { s["labels"] = []any{"gpu", "ssd"} }},
		{"named network", TrustUser, func(d, s obj) { s["network"] = "zoe-overlay" }},
		{"network none from shop", TrustShop, func(d, s obj) { s["network"] = "none" }},
		{"volume from shop", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "data", "path": "/srv/data", "read_only": true}} }},
		{"nvidia from shop", TrustShop, func(d, s obj) { s["environment"] = []any{[]any{"NVIDIA_VISIBLE_DEVICES", "all"}} }},
		{"proxy_path in command and env", TrustUser, func(d, s obj) {
			s["command"] = `jupyter notebook --NotebookApp.base_url='{proxy_path}'`
			s["environment"] = []any{[]any{"BASE", "{proxy_path}"}}
		}},
		{"escaped braces", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"JSON", `{{"a": "{execution_id}"}}`}} }},
		{"all variables", TrustUser, func(d, s obj) {
			s["environment"] = []any{[]any{"X", "{execution_id}{execution_name}{user_name}{deployment_name}{dns_name#self}{dns_name#web0}"}}
		}},
		{"elastic instances", TrustUser, func(d, s obj) {
			s["total_count"] = 3
			s["environment"] = []any{[]any{"PEER", "{dns_name#web2}"}}
		}},
		{"integral float counts", TrustUser, func(d, s obj) { s["total_count"] = json.Number("2.0"); d["version"] = json.Number("3e0") }},
		{"same port other protocol", TrustUser, func(d, s obj) {
			s["ports"] = append(s["ports"].([]any), obj{"name": "dns", "port_number": 8080, "protocol": "udp", "url_template": ""})
		}},
		{"optional fields", TrustUser, func(d, s obj) {
			s["replicas"] = 1
			s["work_dir"] = "/mnt/workspace"
			s["command"] = "sleep 10"
			d["will_end"] = true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(mutated(t, tt.change), tt.trust); err != nil {
				t.Errorf("got error %v, want none", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		trust  Trust
		change func(d, s obj)
		want   Errors
	}{
		// Top level.
		{"version", TrustUser, func(d, s obj) { d["version"] = 2 },
			Errors{{"version", "must be 3, got 2"}}},
		{"version type", TrustUser, func(d, s obj) { d["version"] = "3" },
			Errors{{"version", "must be an integer, got string"}}},
		{"short name", TrustUser, func(d, s obj) { d["name"] = "ab" },
			Errors{{"name", "must be 3 to 128 characters long, got 2"}}},
		{"name with space", TrustUser, func(d, s obj) { d["name"] = "Jupyter notebook" },
			Errors{{"name", `may contain only letters, digits, "-" and "@", got "Jupyter notebook"`}}},
		{"negative size", TrustUser, func(d, s obj) { d["size"] = -1 },
			Errors{{"size", "must not be negative, got -1"}}},
		{"huge size", TrustUser, func(d, s obj) { d["size"] = json.Number("1e40") },
			Errors{{"size", "is out of range, got 1e40"}}},
		{"will_end type", TrustUser, func(d, s obj) { d["will_end"] = "no" },
			Errors{{"will_end", "must be true or false, got string"}}},
		{"no services", TrustUser, func(d, s obj) { d["services"] = []any{} },
			Errors{{"services", "must list at least one service"}}},
		{"services not array", TrustUser, func(d, s obj) { d["services"] = obj{} },
			Errors{{"services", "must be an array, got object"}}},
		{"no monitor", TrustUser, func(d, s obj) { s["monitor"] = false },
			Errors{{"services", `at least one service must have "monitor": true`}}},
		{"missing required", TrustUser, func(d, s obj) { delete(d, "size"); delete(s, "image") },
			Errors{{"size", "is required"}, {"services[0].image", "is required"}}},
		{"unknown top-level field", TrustUser, func(d, s obj) { d["priority"] = 1 },
			Errors{{"priority", "unknown field"}}},

		// Service.
		{"service name short", TrustUser, func(d, s obj) { s["name"] = "ab" },
			Errors{{"services[0].name", "must be 3 to 16 characters long, got 2"}}},
		{"service name long", TrustUser, func(d, s obj) { s["name"] = "abcdefghijklmnopq" },
			Errors{{"services[0].name", "must be 3 to 16 characters long, got 17"}}},
		{"service name leading hyphen", TrustUser, func(d, s obj) { s["name"] = "-web" },
			Errors{{"services[0].name", `must start with a letter or digit and contain only letters, digits and "-", got "-web"`}}},
		{"service name underscore", TrustUser, func(d, s obj) { s["name"] = "my_web" },
			Errors{{"services[0].name", `must start with a letter or digit and contain only letters, digits and "-", got "my_web"`}}},
		{"duplicate service", TrustUser, func(d, s obj) { secondService(d, "WEB") },
			Errors{{"services[1].name", `duplicate service name "WEB" (also services[0]; names are compared ignoring case because they become host names)`}}},
		{"instance clash", TrustUser, func(d, s obj) { s["total_count"] = 11; secondService(d, "web1") },
			Errors{{"services[1].name", `instance "web10" clashes with an instance of services[0]; rename one of the services`}}},
		{"empty image", TrustUser, func(d, s obj) { s["image"] = "" },
			Errors{{"services[0].image", "must not be empty"}}},
		{"upper-case image", TrustUser, func(d, s obj) { s["image"] = "Zapps/Spark:1" },
			Errors{{"services[0].image", `"Zapps/Spark:1" is not a valid image reference: repository name (Spark) must be lowercase`}}},
		{"image with space", TrustUser, func(d, s obj) { s["image"] = "zapps/spark latest" },
			Errors{{"services[0].image", `"zapps/spark latest" is not a valid image reference`}}},
		{"essential zero", TrustUser, func(d, s obj) { s["essential_count"] = 0; s["total_count"] = 0 },
			Errors{{"services[0].essential_count", "must be at least 1, got 0"}}},
		{"essential not integer", TrustUser, func(d, s obj) { s["essential_count"] = json.Number("1.5") },
			Errors{{"services[0].essential_count", "must be an integer, got 1.5"}}},
		{"total below essential", TrustUser, func(d, s obj) { s["essential_count"] = 2 },
			Errors{{"services[0].total_count", "must be at least essential_count (2), got 1"}}},
		{"too many instances", TrustUser, func(d, s obj) { s["total_count"] = 1001 },
			Errors{{"services[0].total_count", "must be at most 1000, got 1001"}}},
		{"replicas zero", TrustUser, func(d, s obj) { s["replicas"] = 0 },
			Errors{{"services[0].replicas", "must be at least 1, got 0"}}},
		{"work_dir relative", TrustUser, func(d, s obj) { s["work_dir"] = "src" },
			Errors{{"services[0].work_dir", `must be an absolute path, got "src"`}}},
		{"work_dir empty", TrustUser, func(d, s obj) { s["work_dir"] = "" },
			Errors{{"services[0].work_dir", "must not be empty (leave it out to use the image's)"}}},

		// Unknown fields that would grant privileges.
		{"privileged", TrustShop, func(d, s obj) { s["privileged"] = true },
			Errors{{"services[0].privileged", "unknown field"}}},
		{"network_mode", TrustShop, func(d, s obj) { s["network_mode"] = "host" },
			Errors{{"services[0].network_mode", "unknown field"}}},
		{"cap_add", TrustShop, func(d, s obj) { s["cap_add"] = []any{"SYS_ADMIN"} },
			Errors{{"services[0].cap_add", "unknown field"}}},
		{"devices", TrustShop, func(d, s obj) { s["devices"] = []any{"/dev/kvm"} },
			Errors{{"services[0].devices", "unknown field"}}},
		{"pid", TrustShop, func(d, s obj) { s["pid_mode"] = "host" },
			Errors{{"services[0].pid_mode", "unknown field"}}},
		{"expose", TrustShop, func(d, s obj) { s["ports"].([]any)[0].(obj)["expose"] = true },
			Errors{{"services[0].ports[0].expose", "unknown field"}}},
		{"resources gpu", TrustShop, func(d, s obj) { s["resources"].(obj)["gpu"] = 1 },
			Errors{{"services[0].resources.gpu", "unknown field"}}},
		{"shm_size", TrustShop, func(d, s obj) { s["resources"].(obj)["shm_size"] = 1 },
			Errors{{"services[0].resources.shm_size", "unknown field"}}},

		// Resources.
		{"memory min exceeds max", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": "3GiB", "max": "2GiB"} },
			Errors{{"services[0].resources.memory.min", "3 GiB exceeds max 2 GiB"}}},
		{"memory negative", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": -1, "max": 0} },
			Errors{{"services[0].resources.memory.min", "must not be negative, got -1"}}},
		{"memory without unit", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": 512, "max": 0} },
			Errors{{"services[0].resources.memory.min", `512 bytes is less than 1 KiB; write the unit, e.g. "512MiB" (0 or null means no reservation)`}}},
		{"memory bad string", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": "lots", "max": 0} },
			Errors{{"services[0].resources.memory.min", `invalid size "lots": want bytes or a number with a unit such as "512MiB" or "2GiB"`}}},
		{"memory bad unit", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": "2GB", "max": "2 parsecs"} },
			Errors{{"services[0].resources.memory.max", `invalid size "2 parsecs": want bytes or a number with a unit such as "512MiB" or "2GiB"`}}},
		{"memory fraction of byte", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": json.Number("1024.5"), "max": 0} },
			Errors{{"services[0].resources.memory.min", `must be a whole number of bytes or a string such as "512MiB", got 1024.5`}}},
		{"memory bool", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": true, "max": 0} },
			Errors{{"services[0].resources.memory.min", `must be a number of bytes or a string such as "512MiB", got boolean`}}},
		{"memory missing max", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": 0} },
			Errors{{"services[0].resources.memory.max", "is required"}}},
		{"cores min exceeds max", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": 3, "max": 2} },
			Errors{{"services[0].resources.cores.min", "3 cores exceeds max 2 cores"}}},
		{"cores negative", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": 0, "max": -0.5} },
			Errors{{"services[0].resources.cores.max", "must not be negative, got -0.5"}}},
		{"cores string", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": "many", "max": 1} },
			Errors{{"services[0].resources.cores.min", `invalid core count "many": want a number such as 2 or 0.5`}}},
		{"memory huge", TrustUser, func(d, s obj) { s["resources"].(obj)["memory"] = obj{"min": json.Number("1e30"), "max": 0} },
			Errors{{"services[0].resources.memory.min", "too large: 1e30"}}},
		{"cores huge", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": json.Number("1e20"), "max": 0} },
			Errors{{"services[0].resources.cores.min", "too large: 1e20"}}},
		{"cores bool", TrustUser, func(d, s obj) { s["resources"].(obj)["cores"] = obj{"min": false, "max": 0} },
			Errors{{"services[0].resources.cores.min", "must be a number of cores, got boolean"}}},
		{"shm negative", TrustUser, func(d, s obj) { s["resources"].(obj)["shm"] = -1 },
			Errors{{"services[0].resources.shm", "must not be negative, got -1"}}},
		{"shm null", TrustUser, func(d, s obj) { s["resources"].(obj)["shm"] = nil },
			Errors{{"services[0].resources.shm", "must be a size, got null (leave it out for Docker's default)"}}},

		// Ports.
		{"port name short", TrustUser, func(d, s obj) { s["ports"].([]any)[0].(obj)["name"] = "ui" },
			Errors{{"services[0].ports[0].name", "must be at least 3 characters long, got 2"}}},
		{"port zero", TrustUser, func(d, s obj) { s["ports"].([]any)[0].(obj)["port_number"] = 0 },
			Errors{{"services[0].ports[0].port_number", "must be between 1 and 65535, got 0"}}},
		{"port too big", TrustUser, func(d, s obj) { s["ports"].([]any)[0].(obj)["port_number"] = 65536 },
			Errors{{"services[0].ports[0].port_number", "must be between 1 and 65535, got 65536"}}},
		{"port protocol", TrustUser, func(d, s obj) { s["ports"].([]any)[0].(obj)["protocol"] = "sctp" },
			Errors{{"services[0].ports[0].protocol", `must be "tcp" or "udp", got "sctp"`}}},
		{"duplicate port", TrustUser, func(d, s obj) {
			s["ports"] = append(s["ports"].([]any), obj{"name": "again", "port_number": 8080, "protocol": "tcp", "url_template": ""})
		}, Errors{{"services[0].ports[1].port_number", "duplicate port 8080/tcp (also ports[0])"}}},
		{"monitor type", TrustUser, func(d, s obj) { s["monitor"] = "yes" },
			// No "at least one service must have monitor" on top: the flag may be meant true.
			Errors{{"services[0].monitor", "must be true or false, got string"}}},
		{"url_template unknown variable", TrustUser, func(d, s obj) { s["ports"].([]any)[0].(obj)["url_template"] = "http://{host}/" },
			Errors{{"services[0].ports[0].url_template", "unknown variable {host} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}, {ip_port}; write {{ and }} for literal braces)"}}},
		{"url_template missing", TrustUser, func(d, s obj) { delete(s["ports"].([]any)[0].(obj), "url_template") },
			Errors{{"services[0].ports[0].url_template", "is required"}}},

		// Environment.
		{"env name digit", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"1A", "x"}} },
			Errors{{"services[0].environment[0][0]", `invalid variable name "1A": use letters, digits and "_", not starting with a digit`}}},
		{"env name hyphen", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A-B", "x"}} },
			Errors{{"services[0].environment[0][0]", `invalid variable name "A-B": use letters, digits and "_", not starting with a digit`}}},
		{"env value number", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"PORT", 8080}} },
			Errors{{"services[0].environment[0][1]", "must be a string, got number"}}},
		{"env not a pair", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "b", "c"}} },
			Errors{{"services[0].environment[0]", `must be a ["NAME", "value"] pair`}}},
		{"env object", TrustUser, func(d, s obj) { s["environment"] = obj{"A": "b"} },
			Errors{{"services[0].environment", "must be an array, got object"}}},
		{"env duplicate", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "1"}, []any{"A", "2"}} },
			Errors{{"services[0].environment[1][0]", "duplicate variable A (also environment[0])"}}},
		{"env unknown variable", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "{username}"}} },
			Errors{{"services[0].environment[0][1]", "unknown variable {username} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}; write {{ and }} for literal braces)"}}},
		{"env missing instance", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "{dns_name#spark-master0}"}} },
			Errors{{"services[0].environment[0][1]", `{dns_name#spark-master0}: this description has no instance named "spark-master0" (instances are <service name><n>, e.g. "web0")`}}},
		{"env ip_port", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "{ip_port}"}} },
			Errors{{"services[0].environment[0][1]", "{ip_port} is only available in url_template"}}},
		{"env open brace", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "x{user_name"}} },
			Errors{{"services[0].environment[0][1]", `unclosed "{" at offset 1 (write "{{" for a literal brace)`}}},
		{"env close brace", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "a}b"}} },
			Errors{{"services[0].environment[0][1]", `single "}" at offset 1 (write "}}" for a literal brace)`}}},
		{"env empty braces", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"A", "{}"}} },
			Errors{{"services[0].environment[0][1]", `empty "{}" at offset 0 (write "{{}}" for literal braces)`}}},
		{"env nvidia from user", TrustUser, func(d, s obj) { s["environment"] = []any{[]any{"NVIDIA_VISIBLE_DEVICES", "all"}} },
			Errors{{"services[0].environment[0][0]", "NVIDIA_VISIBLE_DEVICES grants access to GPU devices and may be set only by descriptions from the shop"}}},

		// Volumes.
		{"volume from user", TrustUser, func(d, s obj) { s["volumes"] = []any{obj{"name": "data", "path": "/srv/data", "read_only": true}} },
			Errors{{"services[0].volumes[0]", "host volumes may be declared only by descriptions from the shop; your workspace is mounted at /mnt/workspace"}}},
		{"volume missing keys", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "data", "path": "/srv/data"}} },
			Errors{{"services[0].volumes[0].read_only", "is required"}}},
		{"volume relative path", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "data", "path": "srv/data", "read_only": true}} },
			Errors{{"services[0].volumes[0].path", `must be an absolute path, got "srv/data"`}}},
		{"volume dot-dot", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "data", "path": "/srv/../etc", "read_only": true}} },
			Errors{{"services[0].volumes[0].path", `must not contain "..", got "/srv/../etc"`}}},
		{"volume name", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "my data", "path": "/srv", "read_only": true}} },
			Errors{{"services[0].volumes[0].name", `must contain only letters, digits, "_" and "-", got "my data"`}}},
		{"volume reserved", TrustShop, func(d, s obj) { s["volumes"] = []any{obj{"name": "workspace", "path": "/srv", "read_only": true}} },
			Errors{{"services[0].volumes[0].name", `"workspace" is reserved: Zoe mounts the user's workspace at /mnt/workspace`}}},
		{"volume duplicate", TrustShop, func(d, s obj) {
			s["volumes"] = []any{obj{"name": "d", "path": "/a", "read_only": true}, obj{"name": "d", "path": "/b", "read_only": false}}
		}, Errors{{"services[0].volumes[1].name", `duplicate volume "d" (also volumes[0])`}}},

		// Command.
		{"command empty", TrustUser, func(d, s obj) { s["command"] = "" },
			Errors{{"services[0].command", "must not be empty (use null to keep the image's command)"}}},
		{"command blank", TrustUser, func(d, s obj) { s["command"] = "   " },
			Errors{{"services[0].command", "must not be empty (use null to keep the image's command)"}}},
		{"command quote", TrustUser, func(d, s obj) { s["command"] = `sh -c 'echo hi` },
			Errors{{"services[0].command", "missing closing quote"}}},
		{"command ip_port", TrustUser, func(d, s obj) { s["command"] = "serve {ip_port}" },
			Errors{{"services[0].command", "{ip_port} is only available in url_template"}}},
		{"command array", TrustUser, func(d, s obj) { s["command"] = []any{"sleep", "1"} },
			Errors{{"services[0].command", "must be a string or null, got array"}}},
		{"command missing", TrustUser, func(d, s obj) { delete(s, "command") },
			Errors{{"services[0].command", "is required"}}},

		// Labels and network.
		{"label duplicate", TrustShop, func(d, s obj) { s["labels"] = []any{"gpu", "gpu"} },
			Errors{{"services[0].labels[1]", `duplicate label "gpu" (also labels[0])`}}},
		{"label invalid", TrustShop, func(d, s obj) { s["labels"] = []any{"has space"} },
			Errors{{"services[0].labels[0]", `invalid label "has space": use letters, digits and "_.:=/-"`}}},
		{"label type", TrustShop, func(d, s obj) { s["labels"] = []any{1} },
			Errors{{"services[0].labels[0]", "must be a string, got number"}}},
		{"network host from shop", TrustShop, func(d, s obj) { s["network"] = "host" },
			Errors{{"services[0].network", `"host" would share the host's or another container's network and is not allowed`}}},
		{"network host from user", TrustUser, func(d, s obj) { s["network"] = "host" },
			Errors{{"services[0].network", `"host" would share the host's or another container's network and is not allowed`}}},
		{"network container", TrustShop, func(d, s obj) { s["network"] = "container:db" },
			Errors{{"services[0].network", `"container:db" would share the host's or another container's network and is not allowed`}}},
		{"network none from user", TrustUser, func(d, s obj) { s["network"] = "none" },
			Errors{{"services[0].network", `"none" is allowed only in descriptions from the shop`}}},
		{"network empty", TrustUser, func(d, s obj) { s["network"] = "" },
			Errors{{"services[0].network", "must not be empty (leave it out to use the site's network)"}}},
		{"network invalid", TrustUser, func(d, s obj) { s["network"] = "my net" },
			Errors{{"services[0].network", `invalid network name "my net"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(mutated(t, tt.change), tt.trust)
			if d != nil {
				t.Errorf("got description %+v, want nil", d)
			}
			var got Errors
			if !errors.As(err, &got) {
				t.Fatalf("got error %v (%T), want Errors", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDocument(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Errors
	}{
		{"syntax error", "{\n  \"name\": \"app\",\n  \"version\": 3,,\n}",
			Errors{{"", "invalid JSON at line 3, column 16 (byte 34): invalid character ',' looking for beginning of object key string"}}},
		{"truncated", `{"name": "app"`,
			Errors{{"", "invalid JSON at line 1, column 15 (byte 14): unexpected end of input"}}},
		{"empty", ``,
			Errors{{"", "invalid JSON at line 1, column 1 (byte 0): unexpected end of input"}}},
		{"trailing data", `{"name": "app"} {}`,
			Errors{{"", "invalid JSON at line 1, column 17 (byte 16): unexpected data after the top-level value"}}},
		{"top-level array", `[]`,
			Errors{{"", "must be an object, got array"}}},
		{"duplicate key", `{"name": "app", "version": 3, "will_end": false, "size": 0, "name": "other", "services": []}`,
			Errors{{"name", "duplicate key"}, {"services", "must list at least one service"}}},
		{
			// Every problem at once, in the order they appear in the document;
			// a value that failed to decode is not also reported as invalid.
			"document order",
			`{"name": "x", "version": 3, "will_end": false, "size": 0, "services": [
			  {"name": "web", "image": "Web", "monitor": false, "essential_count": "one",
			   "total_count": 1, "startup_order": 0, "command": null, "ports": [], "volumes": [],
			   "environment": [["A", "{nope}"]],
			   "resources": {"memory": {"min": "3GiB", "max": "2GiB"}, "cores": {"min": 1, "max": 1}}, "privileged": true},
			  {"name": "db", "image": "postgres:16", "monitor": false, "essential_count": 1,
			   "total_count": 1, "startup_order": 0, "command": null, "ports": [], "environment": [],
			   "resources": {"memory": {"min": 0, "max": 0}, "cores": {"min": 0, "max": 0}}}]}`,
			Errors{
				{"name", "must be 3 to 128 characters long, got 1"},
				{"services", `at least one service must have "monitor": true`},
				{"services[0].image", `"Web" is not a valid image reference: repository name (library/Web) must be lowercase`},
				{"services[0].essential_count", "must be an integer, got string"},
				{"services[0].environment[0][1]", "unknown variable {nope} (known: {execution_id}, {execution_name}, {user_name}, {deployment_name}, {dns_name#self}, {dns_name#<instance>}, {proxy_path}; write {{ and }} for literal braces)"},
				{"services[0].resources.memory.min", "3 GiB exceeds max 2 GiB"},
				{"services[0].privileged", "unknown field"},
				{"services[1].volumes", "is required"}, // a missing key counts at the start of its object
				{"services[1].name", "must be 3 to 16 characters long, got 2"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), TrustUser)
			var got Errors
			if !errors.As(err, &got) {
				t.Fatalf("got error %v (%T), want Errors", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorsString(t *testing.T) {
	err := Errors{{"services[1].resources.memory.min", "3 GiB exceeds max 2 GiB"}, {"", "invalid JSON"}}
	want := "services[1].resources.memory.min: 3 GiB exceeds max 2 GiB; invalid JSON"
	if got := err.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateAfterChange(t *testing.T) {
	d, err := Parse(readFixture(t, "spark.json"), TrustShop)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(TrustShop); err != nil {
		t.Fatalf("Validate of a parsed description: %v", err)
	}
	// As a shop parameter would: scale the workers, and break memory.
	d.Services[0].Name = "master"
	d.Services[1].TotalCount, d.Services[1].EssentialCount = 0, 0
	d.Services[2].Resources.Memory.Max = 2 * GiB
	err = d.Validate(TrustUser)
	want := Errors{
		{"services[1].essential_count", "must be at least 1, got 0"},
		{"services[1].environment[0][1]", `{dns_name#spark-master0}: this description has no instance named "spark-master0" (instances are <service name><n>, e.g. "master0")`},
		{"services[2].resources.memory.min", "12 GiB exceeds max 2 GiB"},
		{"services[2].environment[0][1]", `{dns_name#spark-master0}: this description has no instance named "spark-master0" (instances are <service name><n>, e.g. "master0")`},
		{"services[2].volumes[0]", "host volumes may be declared only by descriptions from the shop; your workspace is mounted at /mnt/workspace"},
	}
	var got Errors
	if !errors.As(err, &got) {
		t.Fatalf("got %v, want Errors", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestParseDeepNesting(t *testing.T) {
	in := `{"name": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	_, err := Parse([]byte(in), TrustUser)
	want := "invalid JSON at line 1, column 73 (byte 72): nested deeper than 64 levels"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
