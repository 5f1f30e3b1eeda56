package handlers

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics is a small Prometheus text-format registry: counters and
// histograms that code updates, and gauges collected when /metrics is read.
// Zoe needs a handful of series, not a client library.
type Metrics struct {
	mu         sync.Mutex
	counters   map[string]*counter
	histograms map[string]*Histogram
	gauges     []gaugeFunc
}

type counter struct {
	help string
	v    map[string]*atomic.Uint64 // by rendered label set
}

type gaugeFunc struct {
	name, help string
	collect    func(ctx context.Context) []Sample
}

// Sample is one value of a gauge with its labels ("state", "running").
type Sample struct {
	Labels []string // name, value, name, value…
	Value  float64
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	return &Metrics{counters: map[string]*counter{}, histograms: map[string]*Histogram{}}
}

// Inc adds one to the counter name with the given label pairs.
func (m *Metrics) Inc(name, help string, labels ...string) {
	key := renderLabels(labels)
	m.mu.Lock()
	c, ok := m.counters[name]
	if !ok {
		c = &counter{help: help, v: map[string]*atomic.Uint64{}}
		m.counters[name] = c
	}
	v, ok := c.v[key]
	if !ok {
		v = new(atomic.Uint64)
		c.v[key] = v
	}
	m.mu.Unlock()
	v.Add(1)
}

// Gauge registers a gauge whose samples are collected at each scrape.
func (m *Metrics) Gauge(name, help string, collect func(ctx context.Context) []Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gaugeFunc{name, help, collect})
}

// Histogram returns the histogram name, creating it with buckets (upper
// bounds, ascending) on first use.
func (m *Metrics) Histogram(name, help string, buckets []float64) *Histogram {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.histograms[name]
	if !ok {
		h = &Histogram{help: help, bounds: buckets, counts: make([]uint64, len(buckets))}
		m.histograms[name] = h
	}
	return h
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	help   string
	mu     sync.Mutex
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.count++
	h.sum += v
}

// WriteTo writes every series in the Prometheus text format.
func (m *Metrics) WriteTo(ctx context.Context, w io.Writer) {
	m.mu.Lock()
	names := make([]string, 0, len(m.counters))
	for n := range m.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.counters[n]
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", n, c.help, n)
		keys := make([]string, 0, len(c.v))
		for k := range c.v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s%s %d\n", n, k, c.v[k].Load())
		}
	}
	hnames := make([]string, 0, len(m.histograms))
	for n := range m.histograms {
		hnames = append(hnames, n)
	}
	sort.Strings(hnames)
	hists := make([]*Histogram, len(hnames))
	for i, n := range hnames {
		hists[i] = m.histograms[n]
	}
	gauges := append([]gaugeFunc(nil), m.gauges...)
	m.mu.Unlock()

	for i, h := range hists {
		n := hnames[i]
		h.mu.Lock()
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", n, h.help, n)
		for j, b := range h.bounds {
			fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", n, formatFloat(b), h.counts[j])
		}
		fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", n, h.count, n, formatFloat(h.sum), n, h.count)
		h.mu.Unlock()
	}
	for _, g := range gauges {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", g.name, g.help, g.name)
		for _, s := range g.collect(ctx) {
			fmt.Fprintf(w, "%s%s %s\n", g.name, renderLabels(s.Labels), formatFloat(s.Value))
		}
	}
}

// labelEscaper escapes a label value of the text exposition format. It is
// built once: Inc runs on every request.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func renderLabels(pairs []string) string {
	if len(pairs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pairs[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(pairs[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%g", f)
}
