package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
)

// GenOptions shapes a synthetic trace.
type GenOptions struct {
	N                int     // number of jobs
	Seed             uint64  // same seed, same trace
	MeanInterarrival float64 // seconds between arrivals, exponentially distributed
}

// The generated workload follows the spirit of the paper's: a mix of
//   - elastic batch jobs (60%), Spark-like: a master and a client, one or two
//     essential workers and a heavy-tailed number (Pareto, α 1.5, up to 30)
//     of elastic workers of 2 to 16 GiB;
//   - rigid batch jobs (20%), TensorFlow-like: one to four essential workers
//     of 4 to 32 GiB;
//   - interactive jobs (20%): one rigid notebook of 2 to 8 GiB that lives
//     for hours.
// Durations are log-normal (heavy-tailed), clipped to [60 s, 2 days]. The
// ZApp size hint is the job's work in instance-minutes (duration × total
// instances), i.e. a perfect estimate, which is what SIZE assumes.

// Generate writes a trace of opts.N jobs.
func Generate(w io.Writer, opts GenOptions) error {
	if opts.N < 0 {
		return fmt.Errorf("generate: negative number of jobs %d", opts.N)
	}
	if opts.MeanInterarrival <= 0 {
		opts.MeanInterarrival = 120
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	t := 0.0
	for i := range opts.N {
		var services []map[string]any
		var duration float64
		switch c := rng.Float64(); {
		case c < 0.6:
			duration = lognormal(rng, 20*60, 1.2)
			workers := 1 + rng.IntN(2)
			elastic := min(int(1/math.Pow(1-rng.Float64(), 1/1.5)), 30)
			mem := []float64{2, 4, 4, 8, 8, 16}[rng.IntN(6)]
			services = []map[string]any{
				service("spark-master", "zoe/spark:2.4", 1, 1, 1, 1, false),
				service("spark-worker", "zoe/spark:2.4", workers, workers+elastic, mem, float64(1+rng.IntN(2)), false),
				service("spark-submit", "zoe/spark:2.4", 1, 1, 1, 1, true),
			}
		case c < 0.8:
			duration = lognormal(rng, 40*60, 1.0)
			n := 1 + rng.IntN(4)
			mem := []float64{4, 8, 16, 32}[rng.IntN(4)]
			services = []map[string]any{service("tf-worker", "zoe/tf:2.1", n, n, mem, float64(1+rng.IntN(4)), true)}
		default:
			duration = lognormal(rng, 3*3600, 0.8)
			services = []map[string]any{service("jupyter", "zoe/jupyter:6.4", 1, 1, float64(2+rng.IntN(7)), 1, true)}
		}
		duration = math.Round(min(max(duration, 60), 2*86400))
		total := 0
		for _, s := range services {
			total += s["total_count"].(int)
		}
		line := map[string]any{
			"id":       fmt.Sprintf("j%d", i+1),
			"arrival":  math.Round(t),
			"duration": duration,
			"description": map[string]any{
				"name": fmt.Sprintf("job-%d", i+1), "version": 3, "will_end": true,
				"size":     int64(math.Round(duration / 60 * float64(total))),
				"services": services,
			},
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		t += rng.ExpFloat64() * opts.MeanInterarrival
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

// GenerateHosts returns n hosts of 16 cores and 64 GiB, in the format of a
// hosts file.
func GenerateHosts(n int) []HostSpec {
	hosts := make([]HostSpec, n)
	for i := range hosts {
		hosts[i] = HostSpec{Name: fmt.Sprintf("host%d", i+1), Cores: 16000, Memory: 64 << 30}
	}
	return hosts
}

func service(name, image string, essential, total int, memGiB, cores float64, monitor bool) map[string]any {
	mem := int64(memGiB * (1 << 30))
	return map[string]any{
		"name": name, "image": image, "monitor": monitor,
		"essential_count": essential, "total_count": total, "startup_order": 0,
		"command": nil, "environment": [][2]string{}, "ports": []any{}, "volumes": []any{},
		"resources": map[string]any{
			"memory": map[string]any{"min": mem, "max": mem},
			"cores":  map[string]any{"min": cores, "max": cores},
		},
	}
}

// lognormal draws with the given median and shape.
func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}
