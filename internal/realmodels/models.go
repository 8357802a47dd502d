// Package realmodels describes the real pretrained models that the tests
// run end to end: where they come from (testdata/real/MODELS.tsv, fetched
// by scripts/fetch-models.sh), the deterministic inputs fed to them, and
// how reference outputs are stored.
package realmodels

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
)

// Input is one graph input and how to fill it.
type Input struct {
	Name  string
	DType common.DType
	Shape common.Shape
	// Fill is zeros, a number, sine, sine*32768, randn, text-paddle, text-imagenet or
	// carry=OUTPUT (see MODELS.tsv).
	Fill string
}

// Model is one line of MODELS.tsv.
type Model struct {
	Name      string
	Package   string // npm package@version
	Path      string // path of the .onnx file in the package tarball
	SHA256    string
	Inputs    []Input
	Steps     int // runs in a row; carried inputs flow from one to the next
	Framework string
	License   string
}

// maxSteps bounds the steps column.
const maxSteps = 64

// LoadList reads a MODELS.tsv file.
func LoadList(path string) ([]Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []Model
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "name\t") {
			continue
		}
		cols := strings.Split(s, "\t")
		if len(cols) != 8 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 8", path, line, len(cols))
		}
		m := Model{Name: cols[0], Package: cols[1], Path: cols[2], SHA256: cols[3], Framework: cols[6], License: cols[7]}
		if m.Steps, err = strconv.Atoi(cols[5]); err != nil || m.Steps < 1 || m.Steps > maxSteps {
			return nil, fmt.Errorf("%s:%d: steps %q is not a number in 1..%d", path, line, cols[5], maxSteps)
		}
		for _, spec := range strings.Split(cols[4], ";") {
			in, err := parseInput(spec)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			m.Inputs = append(m.Inputs, in)
		}
		ms = append(ms, m)
	}
	return ms, sc.Err()
}

// parseInput parses NAME:DTYPE[D0,D1,...]:FILL. The name may itself hold
// colons (PyTorch names such as onnx::Flatten_0), so the dtype is found
// from the bracket.
func parseInput(spec string) (Input, error) {
	open := strings.LastIndex(spec, "[")
	close := strings.LastIndex(spec, "]")
	if open < 0 || close < open || close+1 >= len(spec) || spec[close+1] != ':' {
		return Input{}, fmt.Errorf("input %q: want NAME:DTYPE[SHAPE]:FILL", spec)
	}
	head := spec[:open]
	colon := strings.LastIndex(head, ":")
	if colon <= 0 {
		return Input{}, fmt.Errorf("input %q: no name", spec)
	}
	in := Input{Name: head[:colon], Fill: spec[close+2:]}
	switch head[colon+1:] {
	case "float32":
		in.DType = common.Float32
	case "int64":
		in.DType = common.Int64
	default:
		return Input{}, fmt.Errorf("input %q: dtype %q is not float32 or int64", spec, head[colon+1:])
	}
	in.Shape = common.Shape{}
	if dims := spec[open+1 : close]; dims != "" {
		for _, d := range strings.Split(dims, ",") {
			v, err := strconv.Atoi(d)
			if err != nil || v < 0 || v > 1<<16 {
				return Input{}, fmt.Errorf("input %q: bad dim %q", spec, d)
			}
			in.Shape = append(in.Shape, v)
		}
	}
	if _, err := in.Shape.NumElements(1 << 24); err != nil {
		return Input{}, fmt.Errorf("input %q: %w", spec, err)
	}
	return in, nil
}

// StepInputs returns the inputs of run number step (from 0); prev holds
// the outputs of the previous run, for carried inputs (nil on step 0).
func (m Model) StepInputs(step int, prev map[string]*common.Tensor) (map[string]*common.Tensor, error) {
	res := make(map[string]*common.Tensor, len(m.Inputs))
	for _, in := range m.Inputs {
		t, err := m.fill(in, step, prev)
		if err != nil {
			return nil, fmt.Errorf("model %s, input %s: %w", m.Name, in.Name, err)
		}
		res[in.Name] = t
	}
	return res, nil
}

func (m Model) fill(in Input, step int, prev map[string]*common.Tensor) (*common.Tensor, error) {
	n := in.Shape.Size()
	if out, ok := strings.CutPrefix(in.Fill, "carry="); ok {
		if step == 0 {
			return common.Zeros(in.DType, in.Shape), nil
		}
		t, ok := prev[out]
		if !ok {
			return nil, fmt.Errorf("the previous run has no output %q to carry", out)
		}
		if t.DType() != in.DType || !t.Shape().Equal(in.Shape) {
			return nil, fmt.Errorf("carried output %q is %v%v, want %v%v", out, t.DType(), t.Shape(), in.DType, in.Shape)
		}
		return t.Clone(), nil
	}
	rng := rand.New(rand.NewPCG(seed(m.Name, in.Name), uint64(step)))
	switch in.Fill {
	case "zeros":
		return common.Zeros(in.DType, in.Shape), nil
	case "randn":
		if in.DType != common.Float32 {
			return nil, fmt.Errorf("randn fills float32, not %v", in.DType)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(normal(rng))
		}
		return common.NewTensor(in.Shape, v), nil
	case "sine", "sine*32768":
		// sine*32768 is scaled to the range of 16-bit PCM samples
		if in.DType != common.Float32 || len(in.Shape) != 2 {
			return nil, fmt.Errorf("sine fills float32 [batch, samples], not %v%v", in.DType, in.Shape)
		}
		v := sine(in.Shape[0], in.Shape[1], step, rng)
		if in.Fill != "sine" {
			for i := range v {
				v[i] *= 32768
			}
		}
		return common.NewTensor(in.Shape, v), nil
	case "text-paddle", "text-imagenet":
		if in.DType != common.Float32 || len(in.Shape) != 4 || in.Shape[1] != 3 {
			return nil, fmt.Errorf("%s fills float32 [batch, 3, height, width], not %v%v", in.Fill, in.DType, in.Shape)
		}
		return common.NewTensor(in.Shape, textImages(in.Shape, in.Fill == "text-imagenet", rng)), nil
	}
	c, err := strconv.ParseFloat(in.Fill, 64)
	if err != nil {
		return nil, fmt.Errorf("unknown fill %q", in.Fill)
	}
	switch in.DType {
	case common.Int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(c)
		}
		return common.NewTensor(in.Shape, v), nil
	default:
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(c)
		}
		return common.NewTensor(in.Shape, v), nil
	}
}

func seed(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// uniform is in [-1, 1), from the top 53 bits of one draw.
func uniform(rng *rand.Rand) float64 { return float64(rng.Uint64()>>11)/(1<<52) - 1 }

// normal is a standard normal draw (Box-Muller).
func normal(rng *rand.Rand) float64 {
	u := (float64(rng.Uint64()>>11) + 0.5) / (1 << 53)
	v := float64(rng.Uint64()>>11) / (1 << 53)
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// SampleRate is the rate the sine fill is sampled at.
const SampleRate = 16000

// sine is a 440 Hz tone of amplitude 0.5 with uniform noise of amplitude
// 0.05, sampled at 16 kHz; run step continues where the previous one
// stopped, and each batch row has its own phase.
func sine(batch, samples, step int, rng *rand.Rand) []float32 {
	v := make([]float32, batch*samples)
	for b := range batch {
		for k := range samples {
			t := float64(step*samples+k) / SampleRate
			v[b*samples+k] = float32(0.5*math.Sin(2*math.Pi*440*t+0.7*float64(b)) + 0.05*uniform(rng))
		}
	}
	return v
}

// ImageNet mean and standard deviation (PaddleOCR's det preprocessing).
var (
	imagenetMean = [3]float64{0.485, 0.456, 0.406}
	imagenetStd  = [3]float64{0.229, 0.224, 0.225}
)

// textImages draws, for each batch item, one or more lines of dark
// "characters" (rectangles of random width) on a white page and
// normalises the pixels: (p/255-0.5)/0.5 as PaddleOCR's rec and cls
// models expect, or with the ImageNet mean and std for det. Odd batch
// items are turned upside down, so a direction classifier sees both.
func textImages(shape common.Shape, imagenet bool, rng *rand.Rand) []float32 {
	b, h, w := shape[0], shape[2], shape[3]
	page := make([]float64, h*w)
	out := make([]float32, shape.Size())
	for item := range b {
		for i := range page {
			page[i] = 255
		}
		lines := max(1, h/32)
		lineH := h / lines
		for l := range lines {
			charH := max(1, lineH*11/20)
			top := l*lineH + (lineH-charH)/2
			x := 2 + int(rng.Uint64()%6)
			for x < w-4 {
				word := 2 + int(rng.Uint64()%5)
				for c := 0; c < word && x < w-4; c++ {
					cw := 3 + int(rng.Uint64()%6)
					shade := 20 + float64(rng.Uint64()%50)
					// some characters are shorter, like lower-case letters
					ctop := top
					if rng.Uint64()%3 == 0 {
						ctop = top + charH/3
					}
					for y := ctop; y < top+charH && y < h; y++ {
						for xx := x; xx < x+cw && xx < w; xx++ {
							page[y*w+xx] = shade
						}
					}
					x += cw + 2
				}
				x += 6 + int(rng.Uint64()%6)
			}
		}
		for c := range 3 {
			base := (item*3 + c) * h * w
			for y := range h {
				for x := range w {
					sy, sx := y, x
					if item%2 == 1 {
						sy, sx = h-1-y, w-1-x
					}
					p := page[sy*w+sx] / 255
					if imagenet {
						p = (p - imagenetMean[c]) / imagenetStd[c]
					} else {
						p = (p - 0.5) / 0.5
					}
					out[base+y*w+x] = float32(p)
				}
			}
		}
	}
	return out
}

// MaxRefBytes is the largest output stored whole as a reference; larger
// ones are stored as their argmax and max over the last axis.
const MaxRefBytes = 48 << 10

// Summaries returns what is stored for one output: the tensor itself
// under "" when it is small, else "argmax" (int64) and "max" (float32)
// over its last axis.
func Summaries(t *common.Tensor) (map[string]*common.Tensor, error) {
	if t.Bytes() <= MaxRefBytes {
		return map[string]*common.Tensor{"": t}, nil
	}
	s := t.Shape()
	if len(s) == 0 || s[len(s)-1] == 0 {
		return nil, fmt.Errorf("%w: cannot summarise a %v tensor", common.ErrShape, s)
	}
	last := s[len(s)-1]
	rows := t.Len() / last
	arg := make([]int64, rows)
	top := make([]float32, rows)
	for r := range rows {
		best, bi := math.Inf(-1), 0
		for j := range last {
			if v := t.Float(r*last + j); v > best {
				best, bi = v, j
			}
		}
		arg[r], top[r] = int64(bi), float32(best)
	}
	rs := s[:len(s)-1].Clone()
	return map[string]*common.Tensor{"argmax": common.NewTensor(rs, arg), "max": common.NewTensor(rs, top)}, nil
}

// RefFile is the reference file name of one summary of output out of run
// step: STEP_OUTPUT[.KIND].npy, with characters other than letters,
// digits, '.', '_' and '-' in the output name replaced by '_'.
func RefFile(step int, out, kind string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, out)
	name := fmt.Sprintf("%d_%s", step, clean)
	if kind != "" {
		name += "." + kind
	}
	return name + ".npy"
}

// ErrFetch is returned by Fetch when the script could not fetch the
// models (npm missing or the registry unreachable).
var ErrFetch = errors.New("realmodels: fetching the models failed")

// Fetch runs scripts/fetch-models.sh (script is its path) and returns the
// folder it printed, where the models lie as NAME.onnx.
func Fetch(script string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v: %s", ErrFetch, script, err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%w: %s printed %q, not a folder", ErrFetch, script, dir)
	}
	return filepath.Clean(dir), nil
}
