package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoe-analytics/zoe/backend"
	"github.com/zoe-analytics/zoe/scheduler"
	"github.com/zoe-analytics/zoe/store"
	"github.com/zoe-analytics/zoe/zapp"
)

// runOnce is one pass of the loop: reconcile with the containers that
// exist, finish what is ending, then plan and start what fits.
func (m *Manager) runOnce(ctx context.Context) error {
	start := m.cfg.Now()
	defer func() {
		m.mu.Lock()
		m.counters.Passes++
		m.counters.LastPass = start
		m.counters.LastPassDuration = m.cfg.Now().Sub(start)
		m.mu.Unlock()
	}()
	// Order matters. Only this loop starts containers, so what is in
	// flight now is all that can change under us: note it first, then
	// list the containers, then read the store. A container in the list
	// belongs to work in flight or was recorded before the store read.
	m.mu.Lock()
	busy := make(map[int64]bool, len(m.inflight))
	for id := range m.inflight {
		busy[id] = true
	}
	m.mu.Unlock()
	containers, listErr := m.be.List(ctx)
	if listErr != nil {
		// Hosts that answered are listed; containers of the others are
		// unknown, not gone, and their services are left alone.
		m.log.Warn("listing containers", "err", listErr)
	}
	active, err := m.st.ActiveExecutions(ctx)
	if err != nil {
		return fmt.Errorf("load active executions: %w", err)
	}
	byID := map[string]backend.Container{}
	listed := map[string]bool{}
	for _, c := range containers {
		byID[c.ID] = c
		listed[c.Host] = true
	}
	online := map[string]bool{}
	for _, h := range m.be.Status() {
		online[h.Name] = h.Online && (listErr == nil || listed[h.Name])
	}

	var queue, held []store.Execution
	known := map[string]bool{}
	for _, e := range active {
		for _, s := range e.Services {
			if s.BackendID != "" {
				known[s.BackendID] = true
			}
		}
		if busy[e.ID] || m.busy(e.ID) {
			// Its containers are being started or removed: it is not ours
			// to change in this pass, but what it holds is reserved.
			held = append(held, e)
			continue
		}
		switch e.Status {
		case store.StatusSubmitted:
			if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusSubmitted}, store.StatusQueued, "", m.cfg.Now()); err == nil {
				m.event(ctx, e.ID, "queued", "")
				e.Status = store.StatusQueued
				queue = append(queue, e)
			}
		case store.StatusCleaningUp:
			m.teardownAsync(e, store.StatusTerminated, "")
			held = append(held, e)
		case store.StatusQueued:
			queue = append(queue, e)
		case store.StatusRunning:
			if m.checkDeaths(ctx, &e, byID, online) {
				continue
			}
			if m.overRuntime(ctx, e) {
				continue
			}
			queue = append(queue, e)
		}
	}
	m.removeOrphans(ctx, containers, known, busy)

	snap := m.snapshot(queue, held)
	plan := m.sch.Plan(snap)
	m.mu.Lock()
	m.waits = map[int64]scheduler.Wait{}
	for _, w := range plan.Waiting {
		m.waits[w.Request] = w
		m.bypass[w.Request] = w.Bypassed
	}
	m.mu.Unlock()
	m.apply(ctx, queue, plan)
	return nil
}

func (m *Manager) busy(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inflight[id]
}

// claim marks id as having back-end work in flight; false if it already has.
func (m *Manager) claim(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inflight[id] {
		return false
	}
	m.inflight[id] = true
	return true
}

func (m *Manager) release(id int64) {
	m.mu.Lock()
	delete(m.inflight, id)
	m.mu.Unlock()
	m.Trigger()
}

// snapshot turns the queued and running executions into the scheduler's
// input, with the hosts as last checked. Held executions only reserve what
// they have: they are given as running with no instance left to place.
func (m *Manager) snapshot(execs, held []store.Execution) scheduler.Snapshot {
	snap := scheduler.Snapshot{Now: m.cfg.Now()}
	for _, h := range m.be.Status() {
		state := scheduler.Online
		switch {
		case !h.Online:
			state = scheduler.Offline
		case h.Disabled:
			state = scheduler.Disabled
		}
		snap.Hosts = append(snap.Hosts, scheduler.Host{Name: h.Name, Memory: h.Memory, MilliCores: h.MilliCores, Labels: h.Labels, Images: h.Images, State: state})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range held {
		r := scheduler.Request{ID: e.ID, Size: e.Size, Order: e.ID, Queued: e.SubmittedAt, Running: true}
		for _, s := range e.Services {
			switch s.Status {
			case store.ServiceStarting, store.ServiceActive, store.ServiceTerminating:
				r.Instances = append(r.Instances, scheduler.Instance{Name: s.Name, Group: s.Group, Essential: s.Essential, Memory: s.Memory, MilliCores: s.MilliCores, Host: s.Host})
			}
		}
		snap.Requests = append(snap.Requests, r)
	}
	for _, e := range execs {
		r := scheduler.Request{ID: e.ID, Size: e.Size, Order: e.ID, Queued: e.SubmittedAt, Running: e.Status == store.StatusRunning, Bypassed: m.bypass[e.ID]}
		for _, s := range e.Services {
			if s.Status == store.ServiceError && !s.Essential {
				continue // a fatal elastic failure is not retried
			}
			in := scheduler.Instance{Name: s.Name, Group: s.Group, Essential: s.Essential, Memory: s.Memory, MilliCores: s.MilliCores}
			if svc, err := serviceOf(s); err == nil {
				in.Labels, in.Image = svc.Labels, zapp.ImageRef(svc.Image)
			}
			switch s.Status {
			case store.ServiceStarting, store.ServiceActive, store.ServiceTerminating:
				in.Host = s.Host
			}
			r.Instances = append(r.Instances, in)
		}
		snap.Requests = append(snap.Requests, r)
	}
	return snap
}

// apply carries out a plan: stops first, then the starts, each execution's
// containers in a goroutine of their own.
func (m *Manager) apply(ctx context.Context, execs []store.Execution, plan scheduler.Plan) {
	byID := map[int64]store.Execution{}
	for _, e := range execs {
		byID[e.ID] = e
	}
	for _, st := range plan.Stops {
		e, ok := byID[st.Request]
		if !ok || m.busy(st.Request) {
			continue
		}
		for _, s := range e.Services {
			if s.Name == st.Instance {
				m.stopElastic(ctx, e, s, st.Reason)
			}
		}
	}
	starts := map[int64][]scheduler.Assignment{}
	var order []int64
	for _, a := range plan.Starts {
		if _, ok := starts[a.Request]; !ok {
			order = append(order, a.Request)
		}
		starts[a.Request] = append(starts[a.Request], a)
	}
	for _, id := range order {
		e, ok := byID[id]
		if !ok || !m.claim(id) {
			continue
		}
		as := starts[id]
		if e.Status == store.StatusQueued {
			if err := m.st.SetExecutionStatus(ctx, id, []string{store.StatusQueued}, store.StatusStarting, "", m.cfg.Now()); err != nil {
				m.release(id)
				continue
			}
			m.event(ctx, id, "starting", "")
		}
		// Record every assignment before any container exists, so the next
		// pass counts the reservations even if this process dies now.
		place := map[string]string{}
		for _, a := range as {
			place[a.Instance] = a.Host
		}
		var todo []store.Service
		for _, s := range e.Services {
			h, ok := place[s.Name]
			if !ok {
				continue
			}
			s.Host, s.Status, s.ErrorMessage = h, store.ServiceStarting, ""
			if err := m.st.UpdateService(ctx, &s); err != nil {
				m.log.Error("recording placement", "execution", id, "service", s.Name, "err", err)
				continue
			}
			todo = append(todo, s)
		}
		m.mu.Lock()
		m.starting++
		m.mu.Unlock()
		m.work.Add(1)
		go func() {
			defer m.work.Done()
			defer m.release(id)
			defer func() {
				m.mu.Lock()
				m.starting--
				m.mu.Unlock()
			}()
			m.startServices(context.WithoutCancel(ctx), e, todo)
		}()
	}
}

// startServices starts the given services of e, by ascending startup_order
// (services of the same order in parallel), and moves e to running once
// its essentials are up. A failure of an essential service tears the
// execution down: back to the queue when retrying can help, to error
// otherwise. A failed elastic service is left for a later pass.
func (m *Manager) startServices(ctx context.Context, e store.Execution, todo []store.Service) {
	defer m.beginPulls(e.ID)()
	d, err := m.description(e)
	if err != nil {
		m.fail(ctx, e, err.Error(), false)
		return
	}
	owner, err := m.st.UserByID(ctx, e.UserID)
	if err != nil {
		m.fail(ctx, e, fmt.Sprintf("owner of execution: %v", err), true)
		return
	}
	hosts := map[string]backend.HostStatus{}
	for _, h := range m.be.Status() {
		hosts[h.Name] = h
	}
	network := m.networkFor(e, todo)
	hostsUsed := usedHosts(todo)
	if e.Status == store.StatusQueued && e.Network == "" && len(hostsUsed) == 1 {
		// A first start on one host: a ready network saves creating one.
		// Later starts (elastic services) join whatever network it got.
		for h := range hostsUsed {
			if name, ok := m.claimNetwork(ctx, &e, h, m.cfg.SoloNetwork && containers(d) == 1); ok {
				network = name
			}
		}
	}
	for h := range hostsUsed {
		// Cheap for a claimed network (it exists: one inspect), and it
		// brings back one removed behind Zoe's back.
		if err := m.ensureNetwork(ctx, h, network, m.labels(e, owner, "")); err != nil {
			m.fail(ctx, e, fmt.Sprintf("network %s on host %s: %v", network, h, err), backend.IsRetryable(err))
			return
		}
	}
	byOrder := map[int][]store.Service{}
	var orders []int
	for _, s := range todo {
		svc, err := serviceOf(s)
		if err != nil {
			m.fail(ctx, e, err.Error(), false)
			return
		}
		if _, ok := byOrder[svc.StartupOrder]; !ok {
			orders = append(orders, svc.StartupOrder)
		}
		byOrder[svc.StartupOrder] = append(byOrder[svc.StartupOrder], s)
	}
	sort.Ints(orders)
	for _, o := range orders {
		group := byOrder[o]
		errs := make([]error, len(group))
		var wg sync.WaitGroup
		for i := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = m.startOne(ctx, e, d, owner, hosts[group[i].Host], network, &group[i])
			}()
		}
		wg.Wait()
		failed := slices.ContainsFunc(errs, func(err error) bool { return err != nil })
		if failed && network == m.soloNetwork() {
			// Perhaps the network went behind Zoe's back.
			for h := range hostsUsed {
				m.forgetSolo(h)
			}
		}
		if failed && m.pullsCut(e.ID) {
			// Cut short by Stop, the execution stays starting and the next
			// start of Zoe queues it again (recover); by Terminate, it is
			// cleaning up and the next pass removes what was started.
			return
		}
		for i, err := range errs {
			if err == nil {
				continue
			}
			s := group[i]
			if s.Essential {
				m.fail(ctx, e, fmt.Sprintf("service %s: %v", s.Name, err), backend.IsRetryable(err))
				return
			}
			s.Host, s.Status, s.ErrorMessage = "", store.ServiceCreated, err.Error()
			if !backend.IsRetryable(err) && !errors.Is(err, backend.ErrConflict) {
				s.Status = store.ServiceError
			}
			_ = m.st.UpdateService(ctx, &s)
			m.event(ctx, e.ID, "service failed", fmt.Sprintf("elastic service %s: %v", s.Name, err))
		}
	}
	if e.Status == store.StatusQueued {
		now := m.cfg.Now()
		if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusStarting}, store.StatusRunning, "", now); err == nil {
			m.event(ctx, e.ID, "running", "")
			m.mu.Lock()
			m.counters.Started++
			m.mu.Unlock()
			if m.cfg.OnLaunch != nil {
				m.cfg.OnLaunch(now.Sub(e.SubmittedAt))
			}
		}
		// Otherwise someone asked for termination meanwhile: the next pass
		// sees "cleaning up" and removes what was started.
	}
}

// startOne starts one service and records the outcome.
func (m *Manager) startOne(ctx context.Context, e store.Execution, d *zapp.Description, owner store.User, host backend.HostStatus, network string, s *store.Service) error {
	spec, err := m.spec(e, d, owner, host, network, *s)
	if err != nil {
		s.Status, s.ErrorMessage = store.ServiceError, err.Error()
		_ = m.st.UpdateService(ctx, s)
		return err
	}
	defer m.clearPhase(e.ID, s.Name)
	image := Phase{Service: s.Name, Step: StepImage, Image: spec.Image, Host: host.Name}
	starting := image
	starting.Step = StepStarting
	// The host's last check listed the image: the engine is not asked
	// again, which in a burst of launches is one call less each on a busy
	// engine. Removed since, it is looked for (and pulled) after all.
	listed := slices.Contains(host.Images, spec.Image)
	if !listed {
		if err := m.ensureImage(ctx, e, s, image); err != nil {
			return err
		}
	}
	m.setPhase(e.ID, starting)
	started, err := m.be.Start(ctx, host.Name, spec)
	if listed && errors.Is(err, backend.ErrImageMissing) {
		if err := m.ensureImage(ctx, e, s, image); err != nil {
			return err
		}
		m.setPhase(e.ID, starting)
		started, err = m.be.Start(ctx, host.Name, spec)
	}
	if errors.Is(err, backend.ErrConflict) {
		// A container of this very name (instance, execution and
		// deployment) can only be a leftover of an earlier attempt, e.g.
		// one still being removed: remove it and try once more.
		m.log.Info("replacing leftover container", "host", host.Name, "container", spec.Name)
		if rerr := m.be.Remove(ctx, host.Name, spec.Name); rerr == nil || errors.Is(rerr, backend.ErrNotFound) {
			started, err = m.be.Start(ctx, host.Name, spec)
		}
	}
	if err != nil {
		s.Status, s.ErrorMessage = store.ServiceError, err.Error()
		_ = m.st.UpdateService(ctx, s)
		return err
	}
	s.BackendID, s.BackendStatus, s.Status = started.ContainerID, store.BackendStarted, store.ServiceActive
	// The container's own address, unlike the original's host address: the
	// host's is on every published port already, and the proxy can dial
	// this one when Zoe runs beside the engine (proxy-target = container).
	s.IPAddress, s.DNSName, s.ErrorMessage = started.Address, spec.Hostname, ""
	for i := range s.Ports {
		for _, p := range started.Ports {
			if p.Number == s.Ports[i].Number && p.Protocol == s.Ports[i].Protocol {
				s.Ports[i].ExternalIP, s.Ports[i].ExternalPort = host.ExternalAddress, p.HostPort
			}
		}
	}
	if err := m.st.UpdateService(ctx, s); err != nil {
		// The container runs but the store does not know: remove it rather
		// than leak it; the service is placed again later.
		_ = m.be.Remove(ctx, host.Name, started.ContainerID)
		return fmt.Errorf("record started service: %w", err)
	}
	m.event(ctx, e.ID, "container started", fmt.Sprintf("%s on %s", s.Name, host.Name))
	return nil
}

// ensureImage makes sure phase's image is on phase's host for service s,
// pulling it when the back-end may, with the pull's progress in phase.
func (m *Manager) ensureImage(ctx context.Context, e store.Execution, s *store.Service, phase Phase) error {
	m.setPhase(e.ID, phase)
	pctx, cancel := m.pullContext(ctx, e.ID)
	pulled, err := m.be.EnsureImage(pctx, phase.Host, phase.Image, m.pullReporter(ctx, e.ID, phase))
	cancel()
	if err != nil {
		if !m.pullsCut(e.ID) { // then it did not fail, it was given up
			s.Status, s.ErrorMessage = store.ServiceError, err.Error()
			_ = m.st.UpdateService(ctx, s)
		}
		return err
	}
	if pulled {
		m.event(ctx, e.ID, "image pulled", fmt.Sprintf("%s: %s is on %s", s.Name, phase.Image, phase.Host))
	}
	return nil
}

// fail tears e down after a failed start: back to queued when retrying
// can help, to error otherwise.
func (m *Manager) fail(ctx context.Context, e store.Execution, msg string, retry bool) {
	m.log.Warn("execution start failed", "execution", e.ID, "retry", retry, "err", msg)
	m.teardown(ctx, e.ID)
	if retry {
		if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusStarting}, store.StatusQueued, "", m.cfg.Now()); err == nil {
			m.event(ctx, e.ID, "queued", "start failed, will retry: "+msg)
			return
		}
	}
	if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusStarting, store.StatusRunning, store.StatusCleaningUp}, store.StatusError, msg, m.cfg.Now()); err == nil {
		m.event(ctx, e.ID, "error", msg)
		m.mu.Lock()
		m.counters.Failed++
		m.mu.Unlock()
	}
}

// teardownAsync removes e's containers in the background and then moves it
// to final.
func (m *Manager) teardownAsync(e store.Execution, final, msg string) {
	if !m.claim(e.ID) {
		return
	}
	m.work.Add(1)
	go func() {
		defer m.work.Done()
		defer m.release(e.ID)
		ctx := context.Background()
		m.teardown(ctx, e.ID)
		if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusCleaningUp, store.StatusRunning, store.StatusStarting}, final, msg, m.cfg.Now()); err == nil {
			m.event(ctx, e.ID, final, msg)
			m.countTerminated()
		}
	}()
}

// teardown removes every container and network of execution id and marks
// its services inactive. Containers on unreachable hosts are left to the
// orphan sweep once the host returns.
func (m *Manager) teardown(ctx context.Context, id int64) {
	e, err := m.st.Execution(ctx, id)
	if err != nil {
		m.log.Error("teardown: load execution", "execution", id, "err", err)
		return
	}
	services, err := m.st.ExecutionServices(ctx, id)
	if err != nil {
		m.log.Error("teardown: load services", "execution", id, "err", err)
		return
	}
	var wg sync.WaitGroup
	for i := range services {
		s := &services[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case s.BackendID != "" && s.Host != "":
				m.stopAndKeepLogs(ctx, id, s)
				if err := m.be.Remove(ctx, s.Host, s.BackendID); err != nil && !errors.Is(err, backend.ErrNotFound) {
					m.log.Warn("removing container", "execution", id, "service", s.Name, "err", err)
				}
			case s.Host != "" && s.Status == store.ServiceStarting:
				// Placed but never recorded as started: a process that
				// died mid-start may have left the container. It is found
				// by its name, or it would keep the network in use.
				name := zapp.DNSName(s.Name, id, m.cfg.Deployment)
				if err := m.be.Remove(ctx, s.Host, name); err != nil && !errors.Is(err, backend.ErrNotFound) {
					m.log.Warn("removing container", "execution", id, "service", s.Name, "err", err)
				}
			}
			s.Status, s.BackendStatus, s.BackendID = store.ServiceInactive, store.BackendDestroyed, ""
			for j := range s.Ports {
				s.Ports[j].ExternalIP, s.Ports[j].ExternalPort = "", 0
			}
			if err := m.st.UpdateService(ctx, s); err != nil {
				m.log.Warn("recording removed service", "execution", id, "service", s.Name, "err", err)
			}
		}()
	}
	wg.Wait()
	network := m.networkFor(e, services)
	if network != m.cfg.Network && network != m.soloNetwork() {
		for h := range usedHosts(services) {
			if err := m.be.RemoveNetwork(ctx, h, network); err != nil {
				m.log.Debug("removing network", "network", network, "host", h, "err", err)
			}
		}
	}
}

// checkDeaths compares a running execution's services with their
// containers. An essential service that ended ends the execution: finished
// when it exited with 0 (batch ZApps end this way), error otherwise. A dead
// elastic service is removed and placed again. It returns true when e was
// handed to teardown.
func (m *Manager) checkDeaths(ctx context.Context, e *store.Execution, byID map[string]backend.Container, online map[string]bool) bool {
	for i := range e.Services {
		s := &e.Services[i]
		if s.Status != store.ServiceActive || !online[s.Host] {
			continue
		}
		c, ok := byID[s.BackendID]
		if ok && (c.State == "running" || c.State == "restarting" || c.State == "created") {
			continue
		}
		why := fmt.Sprintf("service %s: container disappeared", s.Name)
		exit := -1
		if ok {
			exit = c.ExitCode
			why = deathReason(s, c)
		}
		m.mu.Lock()
		m.counters.Died++
		m.mu.Unlock()
		if s.Essential {
			if ok {
				s.ExitCode = &exit
				s.BackendStatus = store.BackendDead
				_ = m.st.UpdateService(ctx, s)
			}
			final := store.StatusError
			if ok && c.ExitCode == 0 && !c.OOMKilled {
				final = store.StatusTerminated
			}
			m.event(ctx, e.ID, "service ended", why)
			m.teardownAsync(*e, final, why)
			return true
		}
		s.RestartCount++
		s.ExitCode = &exit
		if ok {
			m.keepLogs(ctx, e.ID, *s)
			_ = m.be.Remove(ctx, s.Host, s.BackendID)
		}
		s.Status, s.BackendStatus, s.BackendID, s.Host, s.ErrorMessage = store.ServiceCreated, store.BackendDestroyed, "", "", why
		for j := range s.Ports {
			s.Ports[j].ExternalIP, s.Ports[j].ExternalPort = "", 0
		}
		if err := m.st.UpdateService(ctx, s); err != nil {
			m.log.Warn("recording dead elastic service", "execution", e.ID, "service", s.Name, "err", err)
		}
		m.event(ctx, e.ID, "service restarted", why+"; it will be placed again")
	}
	return false
}

func deathReason(s *store.Service, c backend.Container) string {
	switch {
	case c.OOMKilled:
		return fmt.Sprintf("service %s killed: out of memory (limit %s)", s.Name, memLimitText(s))
	case c.ExitCode == 0:
		return fmt.Sprintf("service %s finished", s.Name)
	default:
		return fmt.Sprintf("service %s exited with code %d", s.Name, c.ExitCode)
	}
}

func memLimitText(s *store.Service) string {
	if svc, err := serviceOf(*s); err == nil {
		if l := memoryLimit(svc); l > 0 {
			return zapp.Bytes(l).String()
		}
	}
	return "none"
}

// overRuntime terminates e when its owner's run-time quota is spent. The
// limit counts from the start, as the execution page's "stops at" says:
// time spent queued is not run time.
func (m *Manager) overRuntime(ctx context.Context, e store.Execution) bool {
	q, err := m.st.QuotaForUser(ctx, e.UserID)
	if err != nil || q.RuntimeLimit <= 0 || m.cfg.Now().Sub(startedAt(e)) < q.RuntimeLimit {
		return false
	}
	reason := fmt.Sprintf("run-time limit of %s reached", q.RuntimeLimit)
	if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusRunning}, store.StatusCleaningUp, reason, m.cfg.Now()); err == nil {
		m.event(ctx, e.ID, "cleaning up", reason)
		e.Status = store.StatusCleaningUp
		m.teardownAsync(e, store.StatusTerminated, reason)
	}
	return true
}

// removeOrphans removes containers of this deployment that no active
// service knows, unless work on their execution is in flight.
func (m *Manager) removeOrphans(ctx context.Context, containers []backend.Container, known map[string]bool, busy map[int64]bool) {
	for _, c := range containers {
		if known[c.ID] {
			continue
		}
		if id, err := strconv.ParseInt(c.Labels[LabelExecution], 10, 64); err == nil && (busy[id] || m.busy(id)) {
			continue
		}
		m.log.Info("removing orphan container", "host", c.Host, "container", c.Name)
		if err := m.be.Remove(ctx, c.Host, c.ID); err != nil && !errors.Is(err, backend.ErrNotFound) {
			m.log.Warn("removing orphan container", "host", c.Host, "container", c.Name, "err", err)
		}
	}
}

// stopElastic removes a running elastic instance that gives way.
func (m *Manager) stopElastic(ctx context.Context, e store.Execution, s store.Service, reason string) {
	if s.BackendID != "" {
		m.stopAndKeepLogs(ctx, e.ID, &s)
		if err := m.be.Remove(ctx, s.Host, s.BackendID); err != nil && !errors.Is(err, backend.ErrNotFound) {
			m.log.Warn("stopping elastic service", "execution", e.ID, "service", s.Name, "err", err)
			return
		}
	}
	s.Status, s.BackendStatus, s.BackendID, s.Host, s.ErrorMessage = store.ServiceCreated, store.BackendDestroyed, "", "", reason
	for j := range s.Ports {
		s.Ports[j].ExternalIP, s.Ports[j].ExternalPort = "", 0
	}
	if err := m.st.UpdateService(ctx, &s); err != nil {
		m.log.Warn("recording stopped elastic service", "execution", e.ID, "service", s.Name, "err", err)
	}
	m.event(ctx, e.ID, "service stopped", fmt.Sprintf("%s: %s", s.Name, reason))
}

// recover picks up after a previous process: executions caught starting
// are torn down and queued again (their containers may be half made);
// executions caught cleaning up are finished by the first pass.
func (m *Manager) recover(ctx context.Context) error {
	active, err := m.st.ActiveExecutions(ctx)
	if err != nil {
		return err
	}
	for _, e := range active {
		if e.Status != store.StatusStarting {
			continue
		}
		m.log.Info("execution was starting when Zoe stopped: removing what was started and queueing it again", "execution", e.ID)
		m.teardown(ctx, e.ID)
		if err := m.st.SetExecutionStatus(ctx, e.ID, []string{store.StatusStarting}, store.StatusQueued, "", m.cfg.Now()); err == nil {
			m.event(ctx, e.ID, "queued", "Zoe restarted while the execution was starting; starting it again")
		}
	}
	return nil
}

func usedHosts(services []store.Service) map[string]bool {
	hs := map[string]bool{}
	for _, s := range services {
		if s.Host != "" {
			hs[s.Host] = true
		}
	}
	return hs
}

func sortWaits(ws []scheduler.Wait) {
	sort.Slice(ws, func(i, j int) bool { return ws[i].Position < ws[j].Position })
}

var _ = time.Second

// sweepNetworks removes this deployment's networks that neither an
// active execution nor the pool holds: left behind when a create request
// was finished by an engine after the process that sent it died, when a
// removal failed because a container was still attached, or when a
// previous process's ready networks were not taken back. It also drops
// from the pool ready networks someone removed.
func (m *Manager) sweepNetworks(ctx context.Context) {
	// Order matters. The engines are listed first: the pool marks a
	// network pending before making it, so any network listed is known to
	// the pool read next, or recorded in the store read after it (a claim
	// is recorded before it leaves the pool).
	before := m.pool.known()
	names := map[string][]string{}
	for _, h := range m.be.Status() {
		if !h.Online {
			continue
		}
		ns, err := m.be.Networks(ctx, h.Name)
		if err != nil {
			continue
		}
		names[h.Name] = ns
	}
	pooled := m.pool.known()
	active, err := m.st.ActiveExecutions(ctx)
	if err != nil {
		return
	}
	live := map[string]bool{}
	for _, e := range active {
		live[m.ownNetwork(e.ID)] = true
		if e.Network != "" {
			live[e.Network] = true
		}
	}
	prefix := "zoe-" + m.cfg.Deployment + "-"
	for h, ns := range names {
		exist := make(map[string]bool, len(ns))
		for _, n := range ns {
			exist[n] = true
		}
		m.pool.forget(h, before, exist)
		if !exist[m.soloNetwork()] {
			m.forgetSolo(h)
		}
		for _, n := range ns {
			if !strings.HasPrefix(n, prefix) || n == m.cfg.Network || n == m.soloNetwork() || live[n] || pooled[n] {
				continue
			}
			if id, err := strconv.ParseInt(strings.TrimPrefix(n, prefix), 10, 64); err == nil && m.busy(id) {
				continue
			}
			if err := m.be.RemoveNetwork(ctx, h, n); err == nil {
				m.log.Info("removed a network no execution holds", "host", h, "network", n)
			}
		}
	}
}
