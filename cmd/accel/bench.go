package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
)

// benchSide is one backend's engine and measurements in a bench run.
type benchSide struct {
	backend   string
	eng       common.Engine
	load      time.Duration
	first     time.Duration
	lat       []time.Duration
	mallocs   uint64
	profile   []common.OpTime
	batchSize int
}

// Stats is one backend's summary, as printed and as JSON.
type Stats struct {
	Backend      string             `json:"backend"`
	LoadMS       float64            `json:"load_ms"`
	FirstRunMS   float64            `json:"first_run_ms"`
	Iterations   int                `json:"iterations"`
	LatencyMS    map[string]float64 `json:"latency_ms"`
	Throughput   float64            `json:"throughput_per_s"`
	ItemsPerS    float64            `json:"items_per_s"`
	AllocsPerRun float64            `json:"allocs_per_run"`
}

// benchReport is accel bench --json's object.
type benchReport struct {
	Model    string   `json:"model"`
	Threads  int      `json:"threads"`
	Batch    int      `json:"batch"`
	PeakRSS  int64    `json:"peak_rss_bytes"`
	Stats             // the --backend side, inlined
	Vs       *Stats   `json:"vs,omitempty"`
	RatioP50 *float64 `json:"ratio_p50,omitempty"`
}

func cmdBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	model := fs.String("model", "", "the .onnx model file")
	backend := fs.String("backend", "cpu", "backend to measure")
	vs := fs.String("vs", "", "also measure this backend, alternating rounds, and print ratios")
	batch := fs.Int("batch", 0, "batch size: sets every input's leading symbolic dim")
	warmup := fs.Int("warmup", 3, "untimed runs before measuring")
	iters := fs.Int("iterations", 0, "timed runs per backend (default: run for --duration)")
	duration := fs.Duration("duration", 5*time.Second, "measuring time per backend when --iterations is 0")
	asJSON := fs.Bool("json", false, "print one JSON object")
	profile := fs.Bool("profile", false, "print time per operator type, from engines that report it")
	var in inputFlags
	in.register(fs, "random")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *warmup < 0 || *iters < 0 || *duration <= 0 {
		return usagef("--warmup and --iterations must be >= 0 and --duration > 0")
	}
	opts := in.options()
	m, err := loadModel(*model, opts.Limits)
	if err != nil {
		return err
	}
	names := []string{*backend}
	if *vs != "" {
		names = append(names, *vs)
	}
	sides := make([]*benchSide, len(names))
	for i, name := range names {
		start := time.Now()
		eng, err := common.Open(name, m, opts)
		if err != nil {
			for _, s := range sides[:i] {
				s.eng.Close()
			}
			return err
		}
		sides[i] = &benchSide{backend: name, eng: eng, load: time.Since(start), batchSize: max(*batch, 1)}
	}
	defer func() {
		for _, s := range sides {
			s.eng.Close()
		}
	}()
	if *batch > 0 {
		in.dims = append(in.dims, batchDims(sides[0].eng.Inputs(), *batch)...)
	}
	inputs, err := in.buildInputs(sides[0].eng.Inputs(), opts.Limits)
	if err != nil {
		return err
	}
	items := max(*batch, 1)
	if *batch == 0 {
		items = inferBatch(sides[0].eng.Inputs(), inputs)
	}
	for _, s := range sides {
		s.batchSize = items
	}
	ctx := context.Background()
	runOnce := func(s *benchSide) (time.Duration, error) {
		start := time.Now()
		_, err := s.eng.Run(ctx, inputs)
		return time.Since(start), err
	}
	for _, s := range sides {
		d, err := runOnce(s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.backend, err)
		}
		s.first = d
		for i := 0; i < *warmup; i++ {
			if _, err := runOnce(s); err != nil {
				return fmt.Errorf("%s: %w", s.backend, err)
			}
		}
	}
	// Alternate rounds between the backends so drift hits both alike.
	const rounds = 10
	progress := newProgress(stderr, time.Duration(len(sides))*(*duration))
	deadline := time.Now().Add(*duration * time.Duration(len(sides)))
	for r := 0; ; r++ {
		done := true
		for _, s := range sides {
			want := *iters
			var n int
			if want > 0 {
				n = (want*(r+1))/rounds - (want*r)/rounds
				if len(s.lat) < want {
					done = false
				}
			} else {
				n = 1
				if time.Now().Before(deadline) {
					done = false
				} else {
					n = 0
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			for i := 0; i < n; i++ {
				d, err := runOnce(s)
				if err != nil {
					return fmt.Errorf("%s: %w", s.backend, err)
				}
				s.lat = append(s.lat, d)
			}
			runtime.ReadMemStats(&ms)
			s.mallocs += ms.Mallocs - before
		}
		progress.update(time.Now())
		if done || (*iters > 0 && r >= rounds-1) {
			break
		}
	}
	progress.finish()
	for _, s := range sides {
		if p, ok := s.eng.(common.Profiler); ok && *profile {
			s.profile = p.Profile()
		}
	}
	rep := benchReport{Model: *model, Threads: opts.Threads, Batch: items, PeakRSS: peakRSS()}
	if rep.Threads == 0 {
		rep.Threads = runtime.GOMAXPROCS(0)
	}
	rep.Stats = sides[0].stats()
	if len(sides) > 1 {
		v := sides[1].stats()
		rep.Vs = &v
		ratio := rep.LatencyMS["p50"] / v.LatencyMS["p50"]
		rep.RatioP50 = &ratio
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBench(stdout, rep, sides)
	return nil
}

// inferBatch reads the batch size off the first input whose leading dim
// is symbolic; 1 when there is none.
func inferBatch(infos []common.TensorInfo, inputs map[string]*common.Tensor) int {
	for _, in := range infos {
		if len(in.Dims) > 0 && in.Dims[0].Param != "" {
			if t := inputs[in.Name]; t != nil && t.Rank() > 0 {
				return max(t.Shape()[0], 1)
			}
		}
	}
	return 1
}

// batchDims maps each input's leading symbolic dim to the batch size.
func batchDims(infos []common.TensorInfo, batch int) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range infos {
		if len(in.Dims) > 0 && in.Dims[0].Param != "" && !seen[in.Dims[0].Param] {
			seen[in.Dims[0].Param] = true
			out = append(out, in.Dims[0].Param+"="+strconv.Itoa(batch))
		}
	}
	return out
}

func (s *benchSide) stats() Stats {
	lat := append([]time.Duration(nil), s.lat...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p * float64(len(lat)-1))
		return ms(lat[i])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	st := Stats{Backend: s.backend, LoadMS: ms(s.load), FirstRunMS: ms(s.first), Iterations: len(lat), LatencyMS: map[string]float64{}}
	if len(lat) > 0 {
		mean := ms(sum) / float64(len(lat))
		st.LatencyMS = map[string]float64{"min": ms(lat[0]), "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": ms(lat[len(lat)-1]), "mean": mean}
		st.Throughput = 1000 / mean
		st.ItemsPerS = st.Throughput * float64(s.batchSize)
		st.AllocsPerRun = float64(s.mallocs) / float64(len(lat))
	}
	return st
}

func printBench(w io.Writer, rep benchReport, sides []*benchSide) {
	fmt.Fprintf(w, "model %s, batch %d, %d threads, peak RSS %s\n", rep.Model, rep.Batch, rep.Threads, humanBytes(rep.PeakRSS))
	all := []Stats{rep.Stats}
	if rep.Vs != nil {
		all = append(all, *rep.Vs)
	}
	header := fmt.Sprintf("%-12s", "")
	for _, s := range all {
		header += fmt.Sprintf(" %12s", s.Backend)
	}
	if len(all) == 2 {
		header += fmt.Sprintf(" %12s", "ratio")
	}
	fmt.Fprintln(w, header)
	row := func(name string, f func(Stats) float64, format string) {
		line := fmt.Sprintf("%-12s", name)
		for _, s := range all {
			line += fmt.Sprintf(" "+format, f(s))
		}
		if len(all) == 2 {
			if b := f(all[1]); b != 0 {
				line += fmt.Sprintf(" %12.3f", f(all[0])/b)
			} else {
				line += fmt.Sprintf(" %12s", "-")
			}
		}
		fmt.Fprintln(w, line)
	}
	row("load ms", func(s Stats) float64 { return s.LoadMS }, "%12.3f")
	row("first ms", func(s Stats) float64 { return s.FirstRunMS }, "%12.3f")
	for _, k := range []string{"min", "p50", "p90", "p99", "max", "mean"} {
		row(k+" ms", func(s Stats) float64 { return s.LatencyMS[k] }, "%12.3f")
	}
	row("runs/s", func(s Stats) float64 { return s.Throughput }, "%12.2f")
	row("items/s", func(s Stats) float64 { return s.ItemsPerS }, "%12.2f")
	row("allocs/run", func(s Stats) float64 { return s.AllocsPerRun }, "%12.1f")
	row("iterations", func(s Stats) float64 { return float64(s.Iterations) }, "%12.0f")
	for _, s := range sides {
		if len(s.profile) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nprofile of %s (last run):\n", s.backend)
		for _, p := range s.profile {
			fmt.Fprintf(w, "  %-24s %6d calls %12.3f ms\n", p.Op, p.Calls, float64(p.Nanos)/1e6)
		}
	}
}

// peakRSS reads the process's peak resident set (VmHWM) on Linux; 0
// elsewhere.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// progress draws a bar on stderr for runs longer than two seconds.
type progress struct {
	w      io.Writer
	start  time.Time
	total  time.Duration
	drawn  bool
	isTerm bool
}

func newProgress(w io.Writer, total time.Duration) *progress {
	p := &progress{w: w, start: time.Now(), total: total}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.isTerm = true
		}
	}
	return p
}

func (p *progress) update(now time.Time) {
	el := now.Sub(p.start)
	if el < 2*time.Second || p.total <= 2*time.Second {
		return
	}
	frac := min(float64(el)/float64(p.total), 1)
	const width = 30
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	if p.isTerm {
		fmt.Fprintf(p.w, "\r[%s] %3.0f%%", bar, frac*100)
		p.drawn = true
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
