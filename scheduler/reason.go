package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// wait fills Plan.Waiting once every decision is made, so that the reasons
// describe the state the plan leaves behind.
func (p *pass) wait() {
	pos := 0
	for _, r := range p.order {
		if r.running || r.started {
			continue
		}
		pos++
		w := Wait{Request: r.src.ID, Position: pos, Bypassed: r.src.Bypassed, Reason: p.summary(r)}
		if !r.impossible && r.behind == nil {
			w.Bypassed += p.starts - r.startsBefore
		}
		if pos <= p.cfg.Explain {
			w.Hosts = make([]HostReason, len(p.snap.Hosts))
			for i := range p.snap.Hosts {
				w.Hosts[i] = HostReason{Host: p.snap.Hosts[i].Name, Reason: p.explainHost(r, i)}
			}
		}
		p.plan.Waiting = append(p.plan.Waiting, w)
	}
}

// summary is the one-line reason a request waits.
func (p *pass) summary(r *req) string {
	if b := r.behind; b != nil {
		if p.cfg.Backfill {
			return fmt.Sprintf("waits for request %d, overtaken %d times by back-filling, to start first", b.src.ID, b.src.Bypassed+p.starts-b.startsBefore)
		}
		return fmt.Sprintf("waits for request %d, ahead in %s order, to start first", b.src.ID, p.cfg.Policy)
	}
	f := &r.fail
	in := &r.essentials[f.inst]
	src := &r.src.Instances[in.i]
	name := src.Name
	if f.never {
		prefix := "cannot start even on empty hosts: "
		switch {
		case len(p.online) == 0:
			return prefix + "no host is online"
		case in.lacksLabel:
			return prefix + fmt.Sprintf("%s needs label %s, which no online host has", name, p.missingLabel(src))
		case in.lacksImage:
			return prefix + fmt.Sprintf("%s needs image %s, which no online host has", name, src.Image)
		case in.mem > p.capMem:
			return prefix + fmt.Sprintf("%s needs %s memory, the largest online host has %s", name, formatBytes(in.mem), formatBytes(p.capMem))
		case in.cores > p.capCores:
			return prefix + fmt.Sprintf("%s needs %s, the largest online host has %s", name, coreCount(in.cores), coreCount(p.capCores))
		}
		return prefix + fmt.Sprintf("its %d essential instances do not fit together on the online hosts", len(r.essentials))
	}
	// Say what is left once the plan is applied, as the host-by-host
	// reasons do.
	room := "free"
	if f.preempt {
		room = "free or held by elastic instances"
	}
	maxMem, maxCores := p.room(f.preempt)
	maxMem, maxCores = max(maxMem, 0), max(maxCores, 0)
	if in.mem > maxMem {
		return fmt.Sprintf("%s needs %s memory, at most %s %s on any host", name, formatBytes(in.mem), formatBytes(maxMem), room)
	}
	if in.cores > maxCores {
		return fmt.Sprintf("%s needs %s, at most %s %s on any host", name, coreCount(in.cores), formatCores(maxCores), room)
	}
	var with []string
	for _, l := range src.Labels {
		with = append(with, "label "+l)
	}
	if in.image >= 0 {
		with = append(with, "image "+src.Image)
	}
	s := fmt.Sprintf("%s fits no host: none", name)
	if len(with) > 0 {
		s += " with " + strings.Join(with, " and ")
	}
	s += fmt.Sprintf(" has %s memory and %s %s at once", formatBytes(in.mem), coreCount(in.cores), room)
	if f.inst > 0 {
		s = fmt.Sprintf("after placing %d of %d essential instances, %s", f.inst, len(r.essentials), s)
	}
	return s
}

// missingLabel names the first label of in that no online host offers, or
// failing that its first label.
func (p *pass) missingLabel(in *Instance) string {
	for _, l := range in.Labels {
		if _, ok := p.labelBit[l]; !ok {
			return l
		}
	}
	if len(in.Labels) == 1 {
		return in.Labels[0]
	}
	return strings.Join(in.Labels, "+")
}

// explainHost says why host i cannot take r's essential instances now,
// trying them on it one after the other; "" means it could take them all.
func (p *pass) explainHost(r *req, i int) string {
	h := &p.snap.Hosts[i]
	if h.State != Online {
		return h.State.String()
	}
	n := &p.nodes[p.byName[h.Name]]
	mem, cores := n.freeMem, n.freeCores
	many := len(r.essentials) > 1
	for k := range r.essentials {
		src := &r.src.Instances[r.essentials[k].i]
		var why string
		switch {
		case missing(src.Labels, h.Labels) != "":
			why = "lacks label " + missing(src.Labels, h.Labels)
		case !p.cfg.PullImages && src.Image != "" && !hasImage(h.Images, src.Image):
			why = "lacks image " + src.Image
		case src.Memory > mem:
			why = fmt.Sprintf("needs %s memory, %s free", formatBytes(src.Memory), formatBytes(max(mem, 0)))
		case src.MilliCores > cores:
			why = fmt.Sprintf("needs %s, %s free", coreCount(src.MilliCores), formatCores(max(cores, 0)))
		}
		if why == "" {
			mem -= src.Memory
			cores -= src.MilliCores
			continue
		}
		if !many {
			return why
		}
		if k > 0 && !strings.HasPrefix(why, "lacks") {
			return fmt.Sprintf("%s %s (after %d of %d essential instances)", src.Name, why, k, len(r.essentials))
		}
		return src.Name + " " + why
	}
	return ""
}

func missing(need, have []string) string {
	for _, l := range need {
		if !slices.Contains(have, l) {
			return l
		}
	}
	return ""
}

func hasImage(images []string, image string) bool {
	image = canonicalImage(image)
	for _, im := range images {
		if canonicalImage(im) == image {
			return true
		}
	}
	return false
}

// formatBytes writes b with a 1024-based unit and at most one decimal. The
// zapp package has a richer formatter; the scheduler keeps its own so that
// it depends on nothing but the standard library.
func formatBytes(b int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, u := float64(b), 0
	for (v >= 1024 || v <= -1024) && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatInt(b, 10) + " B"
	}
	return strconv.FormatFloat(roundTo(v, 10), 'f', -1, 64) + " " + units[u]
}

// formatCores writes milli-cores as cores: 1500 is "1.5".
func formatCores(mc int64) string {
	return strconv.FormatFloat(float64(mc)/1000, 'f', -1, 64)
}

// coreCount writes "1 core", "0.5 cores", "2 cores".
func coreCount(mc int64) string {
	if mc == 1000 {
		return "1 core"
	}
	return formatCores(mc) + " cores"
}

func roundTo(v, scale float64) float64 {
	if v < 0 {
		return -float64(int64(-v*scale+0.5)) / scale
	}
	return float64(int64(v*scale+0.5)) / scale
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Explain gives the host-by-host reasons for one queued request of snap,
// against the state plan leaves behind, for the requests beyond
// Config.Explain (a portal page showing one execution, say). It returns nil
// for a request that is not queued or that plan starts.
func (s *Scheduler) Explain(snap Snapshot, plan Plan, request int64) []HostReason {
	p := newPass(s.cfg, &snap)
	var r *req
	for i := range p.reqs {
		if p.reqs[i].src.ID == request {
			r = &p.reqs[i]
		}
	}
	if r == nil || r.running {
		return nil
	}
	type key struct {
		req  int64
		name string
	}
	byName := map[key]*Instance{}
	for ri := range snap.Requests {
		for ii := range snap.Requests[ri].Instances {
			in := &snap.Requests[ri].Instances[ii]
			byName[key{snap.Requests[ri].ID, in.Name}] = in
		}
	}
	adjust := func(host string, in *Instance, sign int64) {
		if ni, ok := p.byName[host]; ok && in != nil {
			p.nodes[ni].freeMem += sign * in.Memory
			p.nodes[ni].freeCores += sign * in.MilliCores
		}
	}
	for _, x := range plan.Stops {
		adjust(x.Host, byName[key{x.Request, x.Instance}], 1)
	}
	for _, a := range plan.Starts {
		if a.Request == request {
			return nil
		}
		adjust(a.Host, byName[key{a.Request, a.Instance}], -1)
	}
	out := make([]HostReason, len(snap.Hosts))
	for i := range snap.Hosts {
		out[i] = HostReason{Host: snap.Hosts[i].Name, Reason: p.explainHost(r, i)}
	}
	return out
}
