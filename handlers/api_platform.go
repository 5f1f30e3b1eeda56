package handlers

import (
	"net/http"
	"slices"
	"time"

	"github.com/zoe-analytics/zoe/auth"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// apiVersion is the API's version, the last element of its base path.
const apiVersion = "v1"

func (s *Server) apiInfo(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":             s.version,
		"api_version":         apiVersion,
		"deployment":          s.deployment,
		"zapp_format_version": zapp.FormatVersion,
	})
}

type apiSchedulerJSON struct {
	Queue    []apiQueuedJSON    `json:"queue"`
	Running  []apiExecutionJSON `json:"running"`
	Hosts    []apiHostJSON      `json:"hosts"`
	Counters apiCountersJSON    `json:"counters"`
}

type apiQueuedJSON struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name,omitempty"`
	Owner    string          `json:"owner,omitempty"`
	Status   string          `json:"status,omitempty"`
	Position int             `json:"position"`
	Reason   string          `json:"reason"`
	Hosts    []apiHostReason `json:"hosts"`
}

type apiHostJSON struct {
	Name            string   `json:"name"`
	Online          bool     `json:"online"`
	Disabled        bool     `json:"disabled"`
	Error           string   `json:"error"`
	Address         string   `json:"address"`
	Labels          []string `json:"labels"`
	Containers      int      `json:"containers"`
	Memory          int64    `json:"memory"`
	MemoryHuman     string   `json:"memory_human"`
	ReservedMemory  int64    `json:"reserved_memory"`
	FreeMemory      int64    `json:"free_memory"`
	FreeMemoryHuman string   `json:"free_memory_human"`
	Cores           float64  `json:"cores"`
	ReservedCores   float64  `json:"reserved_cores"`
	FreeCores       float64  `json:"free_cores"`
	Services        int      `json:"services"`
	CheckedAt       *apiTime `json:"checked_at"`
}

type apiCountersJSON struct {
	Passes           int64          `json:"passes"`
	Submitted        int64          `json:"submitted"`
	Started          int64          `json:"started"`
	Terminated       int64          `json:"terminated"`
	Failed           int64          `json:"failed"`
	Died             int64          `json:"died"`
	LastPass         *apiTime       `json:"last_pass"`
	LastPassDuration float64        `json:"last_pass_seconds"`
	ByStatus         map[string]int `json:"executions_by_status"`
}

// apiScheduler shows the queue, what runs and where there is room. Users
// who may not see the platform still see the queue, so that they know
// where they stand, but not the names and owners of others' executions.
func (s *Server) apiScheduler(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	seeAll := auth.UserCan(u, auth.SeePlatform)
	active, err := s.store.ActiveExecutions(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	counts, err := s.store.CountExecutionsByStatus(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	byID := make(map[int64]store.Execution, len(active))
	for _, e := range active {
		byID[e.ID] = e
	}
	out := apiSchedulerJSON{Queue: []apiQueuedJSON{}, Running: []apiExecutionJSON{}, Hosts: []apiHostJSON{}}
	for _, wt := range s.lc.Waits() {
		q := apiQueuedJSON{ID: wt.Request, Position: wt.Position, Reason: wt.Reason, Hosts: apiQueueOf(0, "", wt.Hosts).Hosts}
		if e, ok := byID[wt.Request]; ok && (seeAll || e.UserID == u.ID) {
			q.Name, q.Owner, q.Status = e.Name, e.Username, e.Status
		}
		out.Queue = append(out.Queue, q)
	}
	type reserved struct {
		memory, milli int64
		services      int
	}
	onHost := map[string]reserved{}
	for _, e := range active {
		if e.Status == store.StatusRunning || e.Status == store.StatusStarting {
			if seeAll || e.UserID == u.ID {
				out.Running = append(out.Running, s.apiExecutionOf(e))
			}
		}
		for _, sv := range e.Services {
			if sv.Host == "" || sv.Status == store.ServiceInactive || sv.Status == store.ServiceError {
				continue
			}
			r := onHost[sv.Host]
			r.memory += sv.Memory
			r.milli += sv.MilliCores
			r.services++
			onHost[sv.Host] = r
		}
	}
	for _, h := range s.lc.Hosts() {
		res := onHost[h.Name]
		jh := apiHostJSON{
			Name: h.Name, Online: h.Online, Disabled: h.Disabled, Error: h.Err, Labels: h.Labels, Containers: h.Containers,
			Memory: h.Memory, MemoryHuman: zapp.Bytes(h.Memory).String(), ReservedMemory: res.memory,
			FreeMemory: h.Memory - res.memory, FreeMemoryHuman: zapp.Bytes(max(h.Memory-res.memory, 0)).String(),
			Cores: apiCoresNumber(h.MilliCores), ReservedCores: apiCoresNumber(res.milli), FreeCores: apiCoresNumber(h.MilliCores - res.milli),
			Services: res.services, CheckedAt: apiTimePtr(&h.CheckedAt),
		}
		if seeAll {
			jh.Address = h.ExternalAddress
		}
		if jh.Labels == nil {
			jh.Labels = []string{}
		}
		out.Hosts = append(out.Hosts, jh)
	}
	slices.SortFunc(out.Hosts, func(a, b apiHostJSON) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	c := s.lc.Counters()
	out.Counters = apiCountersJSON{
		Passes: c.Passes, Submitted: c.Submitted, Started: c.Started, Terminated: c.Terminated, Failed: c.Failed, Died: c.Died,
		LastPass: apiTimePtr(&c.LastPass), LastPassDuration: c.LastPassDuration.Round(time.Microsecond).Seconds(), ByStatus: counts,
	}
	if out.Counters.ByStatus == nil {
		out.Counters.ByStatus = map[string]int{}
	}
	writeJSON(w, http.StatusOK, out)
}
