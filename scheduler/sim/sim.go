package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zoe-analytics/zoe/scheduler"
)

// ErrStuck reports a trace that cannot finish on the hosts: some requests
// can never start.
var ErrStuck = errors.New("trace cannot finish")

// Result is what zoe simulate prints.
type Result struct {
	Jobs    []JobResult `json:"jobs"`
	Summary Summary     `json:"summary"`
}

// JobResult is one job's outcome, in seconds.
type JobResult struct {
	ID         string  `json:"id"`
	QueueTime  float64 `json:"queue_time"` // arrival to start of the essential instances
	Turnaround float64 `json:"turnaround"` // arrival to end
	Slowdown   float64 `json:"slowdown"`   // turnaround / duration
}

// Summary aggregates the jobs. Utilisation is the memory reserved over the
// makespan, as a fraction of the hosts' memory.
type Summary struct {
	MeanTurnaround   float64 `json:"mean_turnaround"`
	MedianTurnaround float64 `json:"median_turnaround"`
	P95Turnaround    float64 `json:"p95_turnaround"`
	MeanQueueTime    float64 `json:"mean_queue_time"`
	MeanSlowdown     float64 `json:"mean_slowdown"`
	Makespan         float64 `json:"makespan"`
	Utilisation      float64 `json:"utilisation"`
}

// The progress model is the paper's (Pace et al., CCGrid 2017): a job's work
// is its duration times its total number of instances, and it progresses at
// a rate equal to the number of its instances running. With every elastic
// instance running it takes exactly its duration; with only its essential
// instances it takes proportionally longer. A rigid job always takes its
// duration.

// run is a job in the simulation.
type run struct {
	job       *Job // nil until it arrives
	req       int  // index in the snapshot's requests
	started   bool
	done      bool
	start     float64
	finish    float64
	remaining float64 // instance-seconds of work left
	rate      int     // instances running
	mem       int64   // memory reserved by its running instances
}

// epoch anchors virtual time for DYNSIZE's clock.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// eps absorbs floating-point error when comparing event times.
const eps = 1e-6

// Run replays jobs on hosts with the scheduler configured by cfg. Every
// arrival and every completion triggers a pass, as events do in zoe serve.
// Images are not simulated: every host is taken to have them all.
func Run(cfg scheduler.Config, hosts []scheduler.Host, jobs []Job) (Result, error) {
	cfg.PullImages = true
	s, err := scheduler.New(cfg)
	if err != nil {
		return Result{}, err
	}
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return jobs[order[a]].Arrival < jobs[order[b]].Arrival })

	runs := make([]run, len(jobs))
	byID := map[int64]*run{}
	snap := scheduler.Snapshot{Hosts: hosts}
	var totalMem int64
	for _, h := range hosts {
		totalMem += h.Memory
	}
	var (
		now, memSeconds float64
		next            int // next arrival in order
		finished        int
	)
	for finished < len(jobs) {
		for next < len(order) && jobs[order[next]].Arrival <= now+eps {
			i := order[next]
			j := &jobs[i]
			total := float64(len(j.Instances))
			runs[i] = run{job: j, req: len(snap.Requests), remaining: j.Duration * total}
			id := int64(i + 1)
			byID[id] = &runs[i]
			snap.Requests = append(snap.Requests, scheduler.Request{
				ID: id, Order: int64(next), Size: j.Size,
				Queued:    epoch.Add(time.Duration(j.Arrival * float64(time.Second))),
				Instances: slices.Clone(j.Instances),
			})
			next++
		}
		snap.Now = epoch.Add(time.Duration(now * float64(time.Second)))
		apply(&snap, s.Plan(snap), byID, now)

		// The next event: an arrival or a completion.
		t := math.Inf(1)
		if next < len(order) {
			t = jobs[order[next]].Arrival
		}
		var reserved int64
		for i := range runs {
			r := &runs[i]
			if r.job == nil || r.done {
				continue
			}
			if r.started && r.rate > 0 {
				t = min(t, now+r.remaining/float64(r.rate))
			}
			reserved += r.mem
		}
		if math.IsInf(t, 1) {
			return Result{}, stuck(s, snap, byID)
		}
		dt := t - now
		memSeconds += float64(reserved) * dt
		now = t
		var done []int64
		for i := range runs {
			r := &runs[i]
			if r.job == nil || r.done || !r.started {
				continue
			}
			r.remaining -= float64(r.rate) * dt
			// Far from the origin (arrivals of 1e17 s) the work left can be
			// below what now can resolve: now+left == now would never
			// advance the clock, so such a run is done.
			if r.remaining <= eps*float64(len(r.job.Instances)) || now+r.remaining/float64(r.rate) <= now {
				done = append(done, snap.Requests[r.req].ID)
			}
		}
		if len(done) > 0 {
			finished += len(done)
			remove(&snap, done, byID, now)
		}
	}
	return summarise(jobs, runs, totalMem, memSeconds), nil
}

// apply records a plan in the snapshot as the lifecycle loop would, and
// updates the jobs' progress rates.
func apply(snap *scheduler.Snapshot, p scheduler.Plan, byID map[int64]*run, now float64) {
	find := func(id int64, name string) (*run, *scheduler.Instance) {
		r := byID[id]
		req := &snap.Requests[r.req]
		for i := range req.Instances {
			if req.Instances[i].Name == name {
				return r, &req.Instances[i]
			}
		}
		panic(fmt.Sprintf("sim: plan names unknown instance %s of request %d", name, id))
	}
	for _, x := range p.Stops {
		r, in := find(x.Request, x.Instance)
		in.Host = ""
		r.rate--
		r.mem -= in.Memory
	}
	for _, a := range p.Starts {
		r, in := find(a.Request, a.Instance)
		in.Host = a.Host
		r.rate++
		r.mem += in.Memory
		if a.Essential && !r.started {
			r.started, r.start = true, now
			snap.Requests[r.req].Running = true
		}
	}
	for _, w := range p.Waiting {
		snap.Requests[byID[w.Request].req].Bypassed = w.Bypassed
	}
}

// remove takes finished requests out of the snapshot.
func remove(snap *scheduler.Snapshot, ids []int64, byID map[int64]*run, now float64) {
	for _, id := range ids {
		r := byID[id]
		r.done, r.finish = true, now
		r.remaining, r.rate, r.mem = 0, 0, 0
	}
	snap.Requests = slices.DeleteFunc(snap.Requests, func(req scheduler.Request) bool { return byID[req.ID].done })
	for i := range snap.Requests {
		byID[snap.Requests[i].ID].req = i
	}
}

// stuck explains why the queue can never drain.
func stuck(s *scheduler.Scheduler, snap scheduler.Snapshot, byID map[int64]*run) error {
	p := s.Plan(snap)
	var msgs []string
	for _, w := range p.Waiting {
		r := byID[w.Request]
		msgs = append(msgs, fmt.Sprintf("line %d (id %q): %s", r.job.Line, r.job.ID, w.Reason))
		if len(msgs) == 3 {
			break
		}
	}
	return fmt.Errorf("%w: %d waiting requests can never start on these hosts: %s", ErrStuck, len(p.Waiting), strings.Join(msgs, "; "))
}

func summarise(jobs []Job, runs []run, totalMem int64, memSeconds float64) Result {
	res := Result{Jobs: make([]JobResult, len(jobs))}
	if len(jobs) == 0 {
		return res
	}
	var turn []float64
	first, last := math.Inf(1), 0.0
	var sumTurn, sumQueue, sumSlow float64
	for i, j := range jobs {
		r := &runs[i]
		finish := r.finish
		jr := JobResult{
			ID:         j.ID,
			QueueTime:  round(r.start - j.Arrival),
			Turnaround: round(finish - j.Arrival),
			Slowdown:   round((finish - j.Arrival) / j.Duration),
		}
		res.Jobs[i] = jr
		turn = append(turn, finish-j.Arrival)
		sumTurn += finish - j.Arrival
		sumQueue += r.start - j.Arrival
		sumSlow += (finish - j.Arrival) / j.Duration
		first = min(first, j.Arrival)
		last = max(last, finish)
	}
	n := float64(len(jobs))
	sort.Float64s(turn)
	res.Summary = Summary{
		MeanTurnaround:   round(sumTurn / n),
		MedianTurnaround: round(median(turn)),
		P95Turnaround:    round(turn[int(math.Ceil(0.95*n))-1]),
		MeanQueueTime:    round(sumQueue / n),
		MeanSlowdown:     round(sumSlow / n),
		Makespan:         round(last - first),
	}
	if span := last - first; span > 0 && totalMem > 0 {
		res.Summary.Utilisation = round(memSeconds / (float64(totalMem) * span))
	}
	return res
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// round keeps three decimals: milliseconds, and stable output.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }
