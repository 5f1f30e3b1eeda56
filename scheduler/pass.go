package scheduler

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
)

// node is a host during a pass. Labels and images are interned into bit
// sets so that the feasibility check, which runs queue × hosts times in the
// worst case, touches no map and no string.
type node struct {
	freeMem, freeCores int64
	// giveMem and giveCores are held by running elastic instances, which
	// give way to essential instances of queued requests.
	giveMem, giveCores int64
	score              float64 // see rescore
	// The rest is behind a pointer so that the scan strides over 40 bytes
	// per host, not a hundred.
	*nodeInfo
}

type nodeInfo struct {
	host           *Host
	pos            int32 // leaf in the tree, -1 when not online
	labels, images []uint64
	elastic        []held
	elasticSorted  bool
}

// held is a running elastic instance that may be stopped.
type held struct {
	r          *req
	i          int // index in r.src.Instances
	mem, cores int64
}

// inst is an instance to place.
type inst struct {
	i          int // index in Request.Instances
	mem, cores int64
	labels     []uint64 // nil when the instance needs no label
	image      int      // bit of the image, -1 when not checked
	lacksLabel bool     // needs a label no online host has
	lacksImage bool     // needs an image no online host has
	shape      shape
}

// shape is what feasibility depends on. Within a pass room only shrinks,
// apart from stops, so a shape that fits nowhere keeps fitting nowhere: the
// pass remembers it instead of scanning every host again.
type shape struct {
	mem, cores int64
	image      int
	labels     string
}

type req struct {
	src        *Request
	pos        int // index in policy order
	key        float64
	essentials []inst
	elastics   []inst
	deadEssent bool
	running    bool // see assigned

	started      bool
	impossible   bool
	checkedEver  bool // canEverStart ran
	fail         failure
	behind       *req // the request it waits for, under strict order
	startsBefore int  // admissions earlier in the pass when it failed
}

// failure records why a request's essential instances did not fit.
type failure struct {
	inst    int  // index in essentials of the instance that found no host
	preempt bool // room held by elastic instances was counted
	never   bool // rejected against empty hosts
}

type pass struct {
	cfg      Config
	snap     *Snapshot
	nodes    []node
	online   []int32
	byName   map[string]int
	labelBit map[string]int
	imageBit map[string]int // by canonical name
	imageRaw map[string]int // by the name as written, to spare canonicalImage
	// how many online hosts have each label and image: what all have
	// needs no check
	labelHosts, imageHosts []int
	reqs                   []req
	order                  []*req
	plan                   Plan
	tree                   []seg // see tree.go
	leaves                 int
	full                   fullSet // shapes that fit no free room
	fullPot                fullSet // shapes that fit no free or give-able room
	capMem                 int64   // largest capacity of an online host
	capCores               int64
	anyGive                bool
	scratch                []int32
	starts                 int
}

func newPass(cfg Config, snap *Snapshot) *pass {
	p := &pass{
		cfg:      cfg,
		snap:     snap,
		nodes:    make([]node, len(snap.Hosts)),
		byName:   make(map[string]int, len(snap.Hosts)),
		labelBit: map[string]int{},
		imageBit: map[string]int{},
		imageRaw: map[string]int{},
		full:     fullSet{exact: map[shape]bool{}},
		fullPot:  fullSet{exact: map[shape]bool{}},
	}
	// Intern what online hosts offer; a label or image found on no online
	// host makes an instance infeasible everywhere without a scan.
	for i := range snap.Hosts {
		h := &snap.Hosts[i]
		if h.State != Online {
			continue
		}
		for _, l := range h.Labels {
			if _, ok := p.labelBit[l]; !ok {
				p.labelBit[l] = len(p.labelBit)
				p.labelHosts = append(p.labelHosts, 0)
			}
		}
		if !cfg.PullImages {
			for _, raw := range h.Images {
				if _, ok := p.imageRaw[raw]; ok {
					continue
				}
				im := canonicalImage(raw)
				b, ok := p.imageBit[im]
				if !ok {
					b = len(p.imageBit)
					p.imageBit[im] = b
					p.imageHosts = append(p.imageHosts, 0)
				}
				p.imageRaw[raw] = b
			}
		}
	}
	lw, iw := words(len(p.labelBit)), words(len(p.imageBit))
	bits := make([]uint64, len(snap.Hosts)*(lw+iw))
	infos := make([]nodeInfo, len(snap.Hosts))
	for i := range snap.Hosts {
		h := &snap.Hosts[i]
		n := &p.nodes[i]
		n.nodeInfo = &infos[i]
		n.host = h
		n.freeMem, n.freeCores = h.Memory, h.MilliCores
		n.labels, bits = bits[:lw:lw], bits[lw:]
		n.images, bits = bits[:iw:iw], bits[iw:]
		if _, dup := p.byName[h.Name]; !dup {
			p.byName[h.Name] = i
		}
		n.pos = -1
		if h.State != Online {
			continue
		}
		n.pos = int32(len(p.online))
		p.online = append(p.online, int32(i))
		p.capMem = max(p.capMem, h.Memory)
		p.capCores = max(p.capCores, h.MilliCores)
		for _, l := range h.Labels {
			b := p.labelBit[l]
			if !has(n.labels, b) {
				set(n.labels, b)
				p.labelHosts[b]++
			}
		}
		if !cfg.PullImages {
			for _, im := range h.Images {
				b := p.imageRaw[im]
				if !has(n.images, b) {
					set(n.images, b)
					p.imageHosts[b]++
				}
			}
		}
	}

	p.reqs = make([]req, len(snap.Requests))
	p.order = make([]*req, len(snap.Requests))
	total := 0
	for ri := range snap.Requests {
		total += len(snap.Requests[ri].Instances)
	}
	all := make([]inst, 0, total) // one allocation for every request's lists
	for ri := range snap.Requests {
		src := &snap.Requests[ri]
		r := &p.reqs[ri]
		r.src = src
		r.running = assigned(src)
		r.key = p.key(src)
		p.order[ri] = r
		first := len(all)
		for ii := range src.Instances {
			in := &src.Instances[ii]
			if in.Host != "" && !in.Dead {
				if ni, ok := p.byName[in.Host]; ok {
					n := &p.nodes[ni]
					n.freeMem -= in.Memory
					n.freeCores -= in.MilliCores
					if r.running && !in.Essential {
						n.giveMem += in.Memory
						n.giveCores += in.MilliCores
						n.elastic = append(n.elastic, held{r: r, i: ii, mem: in.Memory, cores: in.MilliCores})
						p.anyGive = true
					}
				}
				continue
			}
			switch {
			case in.Essential && in.Dead && r.running:
				r.deadEssent = true
			case in.Essential && !r.running:
				all = append(all, p.inst(ii, in))
			}
		}
		r.essentials = all[first:len(all):len(all)]
		first = len(all)
		for ii := range src.Instances {
			if in := &src.Instances[ii]; !in.Essential && (in.Host == "" || in.Dead) {
				all = append(all, p.inst(ii, in))
			}
		}
		r.elastics = all[first:len(all):len(all)]
	}
	slices.SortFunc(p.order, func(a, b *req) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.src.Order, b.src.Order), cmp.Compare(a.src.ID, b.src.ID))
	})
	for i, r := range p.order {
		r.pos = i
	}
	p.buildTree()
	return p
}

// fullSet remembers the shapes that fit no host. Room only shrinks during
// a pass, except where a stop frees more than the essential instances it
// made way for take; so a shape that fits nowhere keeps fitting nowhere, as
// does any shape needing at least as much, until such a stop.
type fullSet struct {
	exact map[shape]bool
	plain [][2]int64 // memory and cores of shapes with no label or image to check
}

func (f *fullSet) has(in *inst) bool {
	if in.labels == nil && in.image < 0 {
		for _, e := range f.plain {
			if in.mem >= e[0] && in.cores >= e[1] {
				return true
			}
		}
		return false
	}
	return f.exact[in.shape]
}

func (f *fullSet) add(in *inst) {
	if in.labels == nil && in.image < 0 {
		if len(f.plain) < 64 { // a longer list would cost more than it saves
			f.plain = append(f.plain, [2]int64{in.mem, in.cores})
		}
		return
	}
	f.exact[in.shape] = true
}

// grew forgets the shapes that might fit n now.
func (f *fullSet) grew(n *node) {
	f.plain = slices.DeleteFunc(f.plain, func(e [2]int64) bool { return e[0] <= n.freeMem && e[1] <= n.freeCores })
	for sh := range f.exact {
		if sh.mem <= n.freeMem && sh.cores <= n.freeCores {
			delete(f.exact, sh)
		}
	}
}

// assigned reports whether r's essential instances are assigned: the caller
// says so, or every one of them has a host, as when the caller applied a
// plan but has not yet recorded the request as running.
func assigned(r *Request) bool {
	if r.Running {
		return true
	}
	n := 0
	for i := range r.Instances {
		if in := &r.Instances[i]; in.Essential {
			if in.Host == "" {
				return false
			}
			n++
		}
	}
	return n > 0
}

// key is the request's place in policy order; lower goes first.
func (p *pass) key(r *Request) float64 {
	switch p.cfg.Policy {
	case Size:
		return r.Size
	case DynSize:
		var mem, mc int64
		for _, in := range r.Instances {
			mem += in.Memory
			mc += in.MilliCores
		}
		size := float64(mc) / 1000 * float64(mem)
		if !r.Queued.IsZero() && p.snap.Now.After(r.Queued) {
			size -= p.snap.Now.Sub(r.Queued).Seconds() * dynSizeAging
		}
		return max(size, 0)
	}
	return 0
}

func (p *pass) inst(i int, in *Instance) inst {
	x := inst{i: i, mem: in.Memory, cores: in.MilliCores, image: -1}
	for _, l := range in.Labels {
		b, ok := p.labelBit[l]
		switch {
		case !ok:
			x.lacksLabel = true
		case p.labelHosts[b] < len(p.online):
			if x.labels == nil {
				x.labels = make([]uint64, words(len(p.labelBit)))
			}
			set(x.labels, b)
		}
	}
	if !p.cfg.PullImages && in.Image != "" {
		b, ok := p.imageRaw[in.Image]
		if !ok {
			b, ok = p.imageBit[canonicalImage(in.Image)]
		}
		switch {
		case !ok:
			x.lacksImage = true
		case p.imageHosts[b] < len(p.online):
			x.image = b
		}
	}
	x.shape = shape{x.mem, x.cores, x.image, strings.Join(in.Labels, "\x00")}
	return x
}

// admit walks the queued requests in policy order and places the essential
// instances of each, all or nothing. Without back-filling the first request
// that does not fit holds every later one; with it, later requests go ahead
// until one waiting request has been overtaken MaxBypass times. A request
// that could not start even on empty hosts holds nothing.
func (p *pass) admit() {
	var blocker *req
	var eligible []*req // waiting, may still become the blocker
	var slackReq *req
	slack := 0 // max over eligible of Bypassed - startsBefore
	for _, r := range p.order {
		if r.running {
			continue
		}
		if blocker != nil {
			r.behind = blocker
			continue
		}
		if slackReq != nil && slack+p.starts >= p.cfg.MaxBypass {
			// Starting r would overtake slackReq once too often, unless
			// slackReq can never start anyway.
			for slackReq != nil && slack+p.starts >= p.cfg.MaxBypass {
				if p.canEverStart(slackReq) {
					blocker = slackReq
					break
				}
				eligible = slices.DeleteFunc(eligible, func(x *req) bool { return x == slackReq })
				slackReq, slack = maxSlack(eligible)
			}
			if blocker != nil {
				r.behind = blocker
				continue
			}
		}
		if p.place(r) {
			continue
		}
		if p.surelyImpossible(r) || (!p.cfg.Backfill || r.src.Bypassed >= p.cfg.MaxBypass) && !p.canEverStart(r) {
			r.impossible = true
			continue
		}
		r.startsBefore = p.starts
		if !p.cfg.Backfill || r.src.Bypassed >= p.cfg.MaxBypass {
			blocker = r
			continue
		}
		eligible = append(eligible, r)
		if s := r.src.Bypassed - r.startsBefore; slackReq == nil || s > slack {
			slackReq, slack = r, s
		}
	}
}

func maxSlack(rs []*req) (*req, int) {
	var best *req
	s := 0
	for _, r := range rs {
		if v := r.src.Bypassed - r.startsBefore; best == nil || v > s {
			best, s = r, v
		}
	}
	return best, s
}

// place tries r's essential instances on free room, then on room that
// running elastic instances would give up, and commits the first that fits.
func (p *pass) place(r *req) bool {
	placed, ok := p.trial(r, false)
	if !ok && p.anyGive {
		placed, ok = p.trial(r, true)
	}
	if !ok {
		return false
	}
	r.started = true
	p.starts++
	for k, ni := range placed {
		n := &p.nodes[ni]
		in := &r.src.Instances[r.essentials[k].i]
		p.plan.Starts = append(p.plan.Starts, Assignment{Request: r.src.ID, Instance: in.Name, Host: n.host.Name, Essential: true})
		if n.freeMem < 0 || n.freeCores < 0 {
			p.giveWay(ni, r)
		}
	}
	return true
}

// trial places r's essential instances one by one, in instance order, and
// undoes everything if one does not fit.
func (p *pass) trial(r *req, preempt bool) ([]int32, bool) {
	maxMem, maxCores := p.room(preempt)
	for k := range r.essentials {
		in := &r.essentials[k]
		fail := failure{inst: k, preempt: preempt}
		if in.lacksLabel || in.lacksImage || in.mem > maxMem || in.cores > maxCores {
			r.fail = fail
			return nil, false
		}
		if !preempt && p.full.has(in) || preempt && p.fullPot.has(in) {
			r.fail = fail
			return nil, false
		}
	}
	var rng *rand.Rand
	if p.cfg.Placement == Random {
		rng = rand.New(rand.NewPCG(uint64(p.cfg.Seed), uint64(r.src.ID)))
	}
	placed := p.scratch[:0]
	for k := range r.essentials {
		in := &r.essentials[k]
		ni := p.pick(in, preempt, rng)
		if ni < 0 {
			for j, pj := range placed {
				p.take(pj, -r.essentials[j].mem, -r.essentials[j].cores)
			}
			p.scratch = placed
			r.fail = failure{inst: k, preempt: preempt}
			if k == 0 { // measured against committed room only
				if preempt {
					p.fullPot.add(in)
				} else {
					p.full.add(in)
				}
			}
			return nil, false
		}
		p.take(ni, in.mem, in.cores)
		placed = append(placed, ni)
	}
	p.scratch = placed
	return placed, true
}

// giveWay stops elastic instances on n until the essential instances of r
// just placed there fit, those of the request last in policy order first.
func (p *pass) giveWay(ni int32, r *req) {
	n := &p.nodes[ni]
	if !n.elasticSorted {
		slices.SortFunc(n.elastic, func(a, b held) int {
			return cmp.Or(cmp.Compare(b.r.pos, a.r.pos), cmp.Compare(b.i, a.i))
		})
		n.elasticSorted = true
	}
	stopped := 0
	for _, h := range n.elastic {
		if n.freeMem >= 0 && n.freeCores >= 0 {
			break
		}
		n.freeMem += h.mem
		n.freeCores += h.cores
		n.giveMem -= h.mem
		n.giveCores -= h.cores
		stopped++
		p.plan.Stops = append(p.plan.Stops, Stop{
			Request:  h.r.src.ID,
			Instance: h.r.src.Instances[h.i].Name,
			Host:     n.host.Name,
			Reason:   "gives way to essential instances of request " + itoa(r.src.ID),
		})
	}
	n.elastic = n.elastic[stopped:]
	p.touch(ni)
	p.full.grew(n)
}

// surelyImpossible is the cheap part of canEverStart: an instance larger
// than every online host, or needing what none offers.
func (p *pass) surelyImpossible(r *req) bool {
	for k := range r.essentials {
		in := &r.essentials[k]
		if in.lacksLabel || in.lacksImage || in.mem > p.capMem || in.cores > p.capCores {
			p.neverFail(r, k)
			return true
		}
	}
	return false
}

// canEverStart reports whether r's essential instances fit the online hosts
// when these are empty (first fit). A request that cannot is not allowed to
// hold the queue: it waits for a host to come up, and others go ahead.
func (p *pass) canEverStart(r *req) bool {
	if r.checkedEver {
		return !r.impossible
	}
	r.checkedEver = true
	if p.surelyImpossible(r) {
		r.impossible = true
		return false
	}
	type use struct{ mem, cores int64 }
	used := map[int32]use{}
	for k := range r.essentials {
		in := &r.essentials[k]
		found := false
		for _, ni := range p.online {
			n := &p.nodes[ni]
			u := used[ni]
			if in.labels != nil && !subset(in.labels, n.labels) || in.image >= 0 && !has(n.images, in.image) {
				continue
			}
			if in.mem <= n.host.Memory-u.mem && in.cores <= n.host.MilliCores-u.cores {
				used[ni] = use{u.mem + in.mem, u.cores + in.cores}
				found = true
				break
			}
		}
		if !found {
			p.neverFail(r, k)
			r.impossible = true
			return false
		}
	}
	return true
}

// neverFail records why r cannot start even on empty hosts.
func (p *pass) neverFail(r *req, k int) {
	r.fail = failure{inst: k, never: true}
}

// fillElastic places the missing elastic instances of running and just
// admitted requests, in policy order, wherever free room remains. It never
// stops anything: elastic instances only take what nobody else needs now.
func (p *pass) fillElastic() {
	// Nothing stops in this phase: a shape that fits nowhere once fits
	// nowhere for the rest of it.
	full := fullSet{exact: map[shape]bool{}}
	for _, r := range p.order {
		if !(r.running || r.started) || r.deadEssent || len(r.elastics) == 0 {
			continue
		}
		var rng *rand.Rand
		if p.cfg.Placement == Random {
			rng = rand.New(rand.NewPCG(uint64(p.cfg.Seed), uint64(r.src.ID)^0x9e3779b97f4a7c15))
		}
		for k := range r.elastics {
			in := &r.elastics[k]
			mem, cores := p.room(false)
			if in.lacksLabel || in.lacksImage || in.mem > mem || in.cores > cores || full.has(in) {
				continue
			}
			ni := p.pick(in, false, rng)
			if ni < 0 {
				full.add(in)
				continue
			}
			src := &r.src.Instances[in.i]
			n := &p.nodes[ni]
			p.take(ni, in.mem, in.cores)
			p.plan.Starts = append(p.plan.Starts, Assignment{Request: r.src.ID, Instance: src.Name, Host: n.host.Name})
		}
	}
}

func words(n int) int { return (n + 63) / 64 }

func set(b []uint64, i int) { b[i>>6] |= 1 << (i & 63) }

func has(b []uint64, i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

func subset(need, have []uint64) bool {
	for i, w := range need {
		if w&^have[i] != 0 {
			return false
		}
	}
	return true
}

// canonicalImage makes "x" and "x:latest" the same image, as Docker does.
func canonicalImage(s string) string {
	if strings.Contains(s, "@") {
		return s
	}
	last := s[strings.LastIndexByte(s, '/')+1:]
	if !strings.Contains(last, ":") {
		return s + ":latest"
	}
	return s
}
