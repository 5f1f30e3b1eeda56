package scheduler

import (
	"math"
	"math/rand/v2"
)

// The online hosts sit at the leaves of a segment tree whose inner nodes
// keep the maxima of the room below them, the roomiest host and the
// smallest score. A search skips every subtree where the instance cannot
// fit or cannot beat the best host found so far, and the root answers "does
// this fit anywhere" at once. The result is exactly that of a scan in host
// order: same host, same ties.

// seg summarises the hosts under one tree node.
type seg struct {
	maxMem, maxCores       int64   // free room
	maxPotMem, maxPotCores int64   // free room plus what elastic instances would give up
	minScore               float64 // bound for waterfill
	// top is the leaf of the roomiest host below (see less): average's
	// answer for the whole subtree whenever it fits.
	top int32
}

var emptySeg = seg{math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64, math.Inf(1), -1}

func (p *pass) buildTree() {
	size := 1
	for size < len(p.online) {
		size *= 2
	}
	p.leaves = size
	p.tree = make([]seg, 2*size)
	for i := range p.tree {
		p.tree[i] = emptySeg
	}
	for pos, ni := range p.online {
		p.rescore(ni)
		p.tree[size+pos] = p.leaf(ni)
	}
	for s := size - 1; s >= 1; s-- {
		p.tree[s] = p.merge(&p.tree[2*s], &p.tree[2*s+1])
	}
}

// rescore sets a node's placement score: the room left by its scarcer
// resource, free memory and free cores each measured against the largest
// online host. A host with memory but no cores left is not roomy.
func (p *pass) rescore(ni int32) {
	n := &p.nodes[ni]
	mem, cores := 1.0, 1.0
	if p.capMem > 0 {
		mem = float64(n.freeMem) / float64(p.capMem)
	}
	if p.capCores > 0 {
		cores = float64(n.freeCores) / float64(p.capCores)
	}
	n.score = min(mem, cores)
}

func (p *pass) leaf(ni int32) seg {
	n := &p.nodes[ni]
	return seg{n.freeMem, n.freeCores, n.freeMem + n.giveMem, n.freeCores + n.giveCores, n.score, n.pos}
}

func (p *pass) merge(a, b *seg) seg {
	top := a.top
	if b.top >= 0 && (top < 0 || less(p.at(a.top), p.at(b.top))) {
		top = b.top
	}
	return seg{
		max(a.maxMem, b.maxMem), max(a.maxCores, b.maxCores),
		max(a.maxPotMem, b.maxPotMem), max(a.maxPotCores, b.maxPotCores),
		min(a.minScore, b.minScore),
		top,
	}
}

// at is the node at leaf pos.
func (p *pass) at(pos int32) *node { return &p.nodes[p.online[pos]] }

// take moves room on node ni: positive amounts are used, negative freed.
func (p *pass) take(ni int32, mem, cores int64) {
	n := &p.nodes[ni]
	n.freeMem -= mem
	n.freeCores -= cores
	p.touch(ni)
}

// touch refreshes the tree after node ni's room changed.
func (p *pass) touch(ni int32) {
	pos := p.nodes[ni].pos
	if pos < 0 {
		return
	}
	p.rescore(ni)
	s := p.leaves + int(pos)
	p.tree[s] = p.leaf(ni)
	for s /= 2; s >= 1; s /= 2 {
		p.tree[s] = p.merge(&p.tree[2*s], &p.tree[2*s+1])
	}
}

// room is the most memory and the most cores free (or free and give-able)
// on any one online host; not necessarily the same host.
func (p *pass) room(pot bool) (mem, cores int64) {
	if len(p.online) == 0 {
		return -1, -1
	}
	t := &p.tree[1]
	if pot {
		return t.maxPotMem, t.maxPotCores
	}
	return t.maxMem, t.maxCores
}

// pick returns the online node the placement prefers for in, or -1. With
// preempt, room held by elastic instances counts too, but a node that needs
// no stop is always preferred.
func (p *pass) pick(in *inst, preempt bool, rng *rand.Rand) int32 {
	if ni := p.search(in, false, rng); ni >= 0 || !preempt {
		return ni
	}
	return p.search(in, true, rng)
}

func (p *pass) search(in *inst, pot bool, rng *rand.Rand) int32 {
	if len(p.online) == 0 {
		return -1
	}
	s := searcher{p: p, in: in, pot: pot, best: -1}
	if p.cfg.Placement == Random {
		// A random start, then the first host that fits, wrapping around:
		// as cheap as first fit. Hosts after a long run of full ones are
		// picked more often than a uniform draw would; placements still
		// spread, and stay reproducible.
		start := rng.IntN(len(p.online))
		if !s.first(1, 0, p.leaves, start, len(p.online)) {
			s.first(1, 0, p.leaves, 0, start)
		}
		return s.best
	}
	s.visit(1)
	return s.best
}

// first finds the first fitting leaf of subtree t (leaves lo to lo+width)
// within [from, to).
func (s *searcher) first(t, lo, width, from, to int) bool {
	p, in, g := s.p, s.in, &s.p.tree[t]
	if lo+width <= from || lo >= to {
		return false
	}
	if s.pot {
		if in.mem > g.maxPotMem || in.cores > g.maxPotCores {
			return false
		}
	} else if in.mem > g.maxMem || in.cores > g.maxCores {
		return false
	}
	if t < p.leaves {
		half := width / 2
		return s.first(2*t, lo, half, from, to) || s.first(2*t+1, lo+half, half, from, to)
	}
	if n := p.at(int32(lo)); s.fits(n) {
		s.best, s.bpos = p.online[lo], int32(lo)
		return true
	}
	return false
}

type searcher struct {
	p    *pass
	in   *inst
	pot  bool
	best int32 // node index
	bpos int32 // its leaf
}

// visit walks subtree t. Ties go to the first host in snapshot order, as a
// plain scan would.
func (s *searcher) visit(t int) {
	p, in, g := s.p, s.in, &s.p.tree[t]
	if s.pot {
		if in.mem > g.maxPotMem || in.cores > g.maxPotCores {
			return
		}
	} else if in.mem > g.maxMem || in.cores > g.maxCores {
		return
	}
	switch p.cfg.Placement {
	case Average:
		top := p.at(g.top)
		if s.best >= 0 {
			// Nothing below is roomier than the best so far.
			if b := &p.nodes[s.best]; !less(b, top) && (less(top, b) || g.top > s.bpos) {
				return
			}
		}
		if s.fits(top) {
			// The roomiest host below fits: it is the subtree's answer.
			s.best, s.bpos = p.online[g.top], g.top
			return
		}
	case Waterfill:
		// Nothing below is tighter than the best so far.
		if s.best >= 0 && g.minScore > p.nodes[s.best].score {
			return
		}
	}
	if t < p.leaves {
		s.visit(2 * t)
		s.visit(2*t + 1)
		return
	}
	pos := int32(t - p.leaves)
	ni := p.online[pos]
	n := &p.nodes[ni]
	if !s.fits(n) {
		return
	}
	switch {
	case s.best < 0:
		s.best, s.bpos = ni, pos
	case p.cfg.Placement == Waterfill:
		if less(n, &p.nodes[s.best]) {
			s.best, s.bpos = ni, pos
		}
	}
}

func (s *searcher) fits(n *node) bool {
	in := s.in
	mem, cores := n.freeMem, n.freeCores
	if s.pot {
		mem += n.giveMem
		cores += n.giveCores
	}
	return in.mem <= mem && in.cores <= cores && (in.labels == nil || subset(in.labels, n.labels)) && (in.image < 0 || has(n.images, in.image))
}

// less orders nodes by room: score, then free memory, then free cores.
func less(a, b *node) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	if a.freeMem != b.freeMem {
		return a.freeMem < b.freeMem
	}
	return a.freeCores < b.freeCores
}
