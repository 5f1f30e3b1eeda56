package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// Container labels Zoe sets, besides the back-end's own deployment and
// managed-by markers.
const (
	LabelDeployment = "zoe.deployment"
	LabelExecution  = "zoe.execution"
	LabelService    = "zoe.service"
	LabelOwner      = "zoe.owner"
)

// reservedEnv are the variables Zoe sets in every container.
var reservedEnv = map[string]bool{
	"EXECUTION_ID": true, "DEPLOY_NAME": true, "ZOE_UID": true, "ZOE_GID": true, "ZOE_USER": true,
	"SERVICE_NAME": true, "ZOE_WORKSPACE": true, "ZOE_PROXY_PATH": true, "MEM_LIMIT": true, "CPU_LIMIT": true,
}

// WorkspaceMount is where every container sees its owner's workspace.
const WorkspaceMount = "/mnt/workspace"

func serviceOf(s store.Service) (*zapp.Service, error) {
	var svc zapp.Service
	if err := json.Unmarshal(s.Description, &svc); err != nil {
		return nil, fmt.Errorf("stored description of service %s: %w", s.Name, err)
	}
	return &svc, nil
}

// memoryLimit is the hard limit of a service: its max when set, its
// reservation otherwise; 0 means none.
func memoryLimit(svc *zapp.Service) int64 {
	if svc.Resources.Memory.Max > 0 {
		return int64(svc.Resources.Memory.Max)
	}
	return int64(svc.Resources.Memory.Min)
}

// cpuLimit is the CPU limit of a service in milli-cores: its max when set,
// its reservation otherwise; 0 means none.
func cpuLimit(svc *zapp.Service) int64 {
	if svc.Resources.Cores.Max > 0 {
		return int64(svc.Resources.Cores.Max)
	}
	return int64(svc.Resources.Cores.Min)
}

// ProxyPath is the path under which the portal proxies a port of a
// service instance.
func ProxyPath(prefix string, execution int64, instance string, port int) string {
	return fmt.Sprintf("%s/%d/%s/%d/", prefix, execution, instance, port)
}

// networkFor names the network of e: a bridge of its own when all its
// services are on one host (so executions cannot reach each other), the
// configured shared network when they span hosts. Its own bridge is the
// one it claimed from the pool when the store records one, and otherwise
// the one named after it (as for every execution started before the pool).
func (m *Manager) networkFor(e store.Execution, services []store.Service) string {
	if len(usedHosts(services)) > 1 && m.cfg.Network != "" {
		return m.cfg.Network
	}
	if e.Network != "" {
		return e.Network
	}
	return m.ownNetwork(e.ID)
}

// soloNetwork is the name of the isolated bridge shared, on each host,
// by the executions of a single container (Config.SoloNetwork).
func (m *Manager) soloNetwork() string {
	return fmt.Sprintf("zoe-%s-solo", m.cfg.Deployment)
}

// containers counts the containers d runs at most.
func containers(d *zapp.Description) int {
	n := 0
	for _, s := range d.Services {
		n += s.TotalCount
	}
	return n
}

// ownNetwork is the name of the bridge made for execution id at launch
// when it claimed none from the pool.
func (m *Manager) ownNetwork(id int64) string {
	return fmt.Sprintf("zoe-%s-%d", m.cfg.Deployment, id)
}

func (m *Manager) labels(e store.Execution, owner store.User, service string) map[string]string {
	l := map[string]string{
		LabelDeployment: m.cfg.Deployment,
		LabelExecution:  strconv.FormatInt(e.ID, 10),
		LabelOwner:      owner.Username,
	}
	if service != "" {
		l[LabelService] = service
	}
	return l
}

// Workspace returns the workspace directory of a user, creating it owned
// by the user's uid when it does not exist.
func (m *Manager) Workspace(owner store.User) (string, error) {
	name := owner.Username
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", fmt.Errorf("user name %q cannot name a workspace", name)
	}
	dir := filepath.Join(m.cfg.Workspaces, name)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(m.cfg.Workspaces, 0o755); err != nil {
			return "", fmt.Errorf("create workspaces: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
			return "", fmt.Errorf("create workspace: %w", err)
		}
		if owner.FSUID > 0 {
			_ = os.Chown(dir, owner.FSUID, m.cfg.FSGroupID)
		}
	}
	return dir, nil
}

// spec builds the container of one service instance: its environment with
// templates expanded and Zoe's standard variables, limits, mounts, ports,
// labels and network.
func (m *Manager) spec(e store.Execution, d *zapp.Description, owner store.User, host backend.HostStatus, network string, s store.Service) (backend.ServiceSpec, error) {
	svc, err := serviceOf(s)
	if err != nil {
		return backend.ServiceSpec{}, err
	}
	vars := d.Vars(s.Name, zapp.Execution{ID: e.ID, Name: e.Name, User: owner.Username, Deployment: m.cfg.Deployment})
	// In environment and command, {proxy_path} is the path of the
	// service's first proxied port ("" when none), as the format says.
	proxyPath := ""
	for _, p := range svc.Ports {
		if p.Proxy {
			proxyPath = ProxyPath(m.cfg.ProxyPrefix, e.ID, s.Name, p.PortNumber)
			break
		}
	}
	vars[zapp.VarProxyPath] = proxyPath

	memLimit, milli := memoryLimit(svc), cpuLimit(svc)
	if host.MilliCores > 0 && milli > host.MilliCores {
		// An engine refuses a CPU limit above its CPUs: a limit that large
		// means "all of them" on this host.
		milli = host.MilliCores
	}
	env := make([]string, 0, len(svc.Environment)+12)
	for _, kv := range svc.Environment {
		if reservedEnv[kv.Name] {
			continue // Zoe's own variables win over a description's
		}
		v, err := zapp.Expand(kv.Value, vars)
		if err != nil {
			return backend.ServiceSpec{}, fmt.Errorf("environment %s: %w", kv.Name, err)
		}
		env = append(env, kv.Name+"="+v)
	}
	env = append(env,
		"EXECUTION_ID="+strconv.FormatInt(e.ID, 10),
		"DEPLOY_NAME="+m.cfg.Deployment,
		"ZOE_UID="+strconv.Itoa(owner.FSUID),
		"ZOE_GID="+strconv.Itoa(m.cfg.FSGroupID),
		"ZOE_USER="+owner.Username,
		"SERVICE_NAME="+s.Name,
		"ZOE_WORKSPACE="+WorkspaceMount,
		"ZOE_PROXY_PATH="+proxyPath,
		"MEM_LIMIT="+strconv.FormatInt(memLimit, 10),
		"CPU_LIMIT="+strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64),
	)

	var cmd []string
	if svc.Command != nil {
		cmd, err = zapp.ExpandCommand(*svc.Command, vars)
		if err != nil {
			return backend.ServiceSpec{}, fmt.Errorf("command: %w", err)
		}
	}
	ws, err := m.Workspace(owner)
	if err != nil {
		return backend.ServiceSpec{}, err
	}
	mounts := []backend.Mount{{Source: ws, Target: WorkspaceMount}}
	for _, v := range m.cfg.AdditionalVolumes {
		mounts = append(mounts, backend.Mount{Source: v.HostPath, Target: "/mnt/" + v.Name, ReadOnly: true})
	}
	// Volumes in a stored description passed the trust rules at submission:
	// only shop ZApps, written by admins, may declare them.
	for _, v := range svc.Volumes {
		mounts = append(mounts, backend.Mount{Source: v.Path, Target: "/mnt/" + v.Name, ReadOnly: v.ReadOnly})
	}
	var ports []backend.PortSpec
	for _, p := range svc.Ports {
		ports = append(ports, backend.PortSpec{Number: p.PortNumber, Protocol: p.Protocol})
	}
	name := zapp.DNSName(s.Name, e.ID, m.cfg.Deployment)
	var aliases []string
	if network != m.cfg.Network && network != m.soloNetwork() {
		// Short names only on the execution's own network: on a shared one
		// they would resolve to other executions' services too.
		aliases = []string{s.Name}
	}
	return backend.ServiceSpec{
		Name:              name,
		Hostname:          name,
		Image:             zapp.ImageRef(svc.Image),
		Command:           cmd,
		Env:               env,
		Labels:            m.labels(e, owner, s.Name),
		Memory:            memLimit,
		MemoryReservation: int64(svc.Resources.Memory.Min),
		NanoCPUs:          milli * 1_000_000,
		ShmSize:           int64(svc.Resources.Shm),
		WorkDir:           svc.WorkDir,
		Mounts:            mounts,
		Ports:             ports,
		Network:           network,
		Aliases:           aliases,
	}, nil
}
