package realmodels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

func TestParseInput(t *testing.T) {
	in, err := parseInput("onnx::Flatten_0:float32[1,25,96]:randn")
	require.NoError(t, err)
	require.Equal(t, Input{Name: "onnx::Flatten_0", DType: common.Float32, Shape: common.Shape{1, 25, 96}, Fill: "randn"}, in)
	in, err = parseInput("sr:int64[]:16000")
	require.NoError(t, err)
	require.Equal(t, Input{Name: "sr", DType: common.Int64, Shape: common.Shape{}, Fill: "16000"}, in)
	for _, bad := range []string{"x", "x:float32[1,2]", ":float32[1]:zeros", "x:int8[1]:zeros", "x:float32[1,-2]:zeros",
		"x:float32[a]:zeros", "x:float32[65536,65536]:zeros", "x:float32[1]zeros"} {
		_, err := parseInput(bad)
		require.Error(t, err, bad)
	}
}

func TestFills(t *testing.T) {
	m := Model{Name: "m", Steps: 2, Inputs: []Input{
		{Name: "audio", DType: common.Float32, Shape: common.Shape{2, 64}, Fill: "sine"},
		{Name: "state", DType: common.Float32, Shape: common.Shape{2, 3}, Fill: "carry=stateN"},
		{Name: "sr", DType: common.Int64, Shape: common.Shape{}, Fill: "16000"},
		{Name: "feat", DType: common.Float32, Shape: common.Shape{4000}, Fill: "randn"},
	}}
	in0, err := m.StepInputs(0, nil)
	require.NoError(t, err)
	require.Equal(t, []int64{16000}, common.Data[int64](in0["sr"]))
	require.Equal(t, make([]float32, 6), common.Data[float32](in0["state"]))

	// the sine continues from one run to the next; noise stays within 0.05
	_, err = m.StepInputs(1, map[string]*common.Tensor{})
	require.Error(t, err, "a missing carried output is an error")
	_, err = m.StepInputs(1, map[string]*common.Tensor{"stateN": common.Zeros(common.Float32, common.Shape{3, 2})})
	require.Error(t, err, "a carried output of another shape is an error")
	state := common.NewTensor(common.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	in1, err := m.StepInputs(1, map[string]*common.Tensor{"stateN": state})
	require.NoError(t, err)
	require.Equal(t, common.Data[float32](state), common.Data[float32](in1["state"]))
	for step, in := range []map[string]*common.Tensor{in0, in1} {
		a := common.Data[float32](in["audio"])
		for b := range 2 {
			for k := range 64 {
				ts := float64(step*64+k) / SampleRate
				want := 0.5 * math.Sin(2*math.Pi*440*ts+0.7*float64(b))
				require.InDelta(t, want, float64(a[b*64+k]), 0.0501)
			}
		}
	}

	// sine*32768: the same signal in 16-bit PCM range
	pcm := Model{Name: "m", Steps: 1, Inputs: []Input{{Name: "audio", DType: common.Float32, Shape: common.Shape{2, 64}, Fill: "sine*32768"}}}
	inPCM, err := pcm.StepInputs(0, nil)
	require.NoError(t, err)
	for i, v := range common.Data[float32](in0["audio"]) {
		require.InDelta(t, float64(v)*32768, float64(common.Data[float32](inPCM["audio"])[i]), 1e-2)
	}

	// randn: mean near 0, variance near 1; same draws for the same step
	f := common.Data[float32](in0["feat"])
	var sum, sq float64
	for _, v := range f {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean := sum / float64(len(f))
	require.InDelta(t, 0, mean, 0.06)
	require.InDelta(t, 1, sq/float64(len(f))-mean*mean, 0.08)
	again, err := m.StepInputs(0, nil)
	require.NoError(t, err)
	require.Equal(t, f, common.Data[float32](again["feat"]))
	require.NotEqual(t, f, common.Data[float32](in1["feat"]))
}

func TestTextImages(t *testing.T) {
	shape := common.Shape{2, 3, 48, 96}
	for _, imagenet := range []bool{false, true} {
		m := Model{Name: "ocr", Steps: 1, Inputs: []Input{{Name: "x", DType: common.Float32, Shape: shape, Fill: map[bool]string{false: "text-paddle", true: "text-imagenet"}[imagenet]}}}
		in, err := m.StepInputs(0, nil)
		require.NoError(t, err)
		v := common.Data[float32](in["x"])
		plane := 48 * 96
		for item := range 2 {
			for c := range 3 {
				white := 1.0
				if imagenet {
					white = (1 - imagenetMean[c]) / imagenetStd[c]
				}
				var ink, margin int
				for y := range 48 {
					for x := range 96 {
						p := float64(v[(item*3+c)*plane+y*96+x])
						// back to a 0..255 pixel
						var px float64
						if imagenet {
							px = (p*imagenetStd[c] + imagenetMean[c]) * 255
						} else {
							px = (p*0.5 + 0.5) * 255
						}
						if p == float64(float32(white)) {
							continue
						}
						require.InDelta(t, 45, px, 25.01, "dark pixels are shades 20..69")
						ink++
						// text sits in the middle of the line, never at the top or bottom rows
						if y < 5 || y >= 43 {
							margin++
						}
					}
				}
				require.Greater(t, ink, plane/10, "item %d channel %d has too little ink", item, c)
				require.Zero(t, margin)
			}
		}
		// item 1 is upside down: its text starts at the right edge
		firstInk := func(item int) (left, right int) {
			left, right = 96, -1
			for x := range 96 {
				p := v[item*3*plane+24*96+x]
				if p != v[item*3*plane] {
					left, right = min(left, x), max(right, x)
				}
			}
			return
		}
		l0, r0 := firstInk(0)
		l1, r1 := firstInk(1)
		require.Less(t, l0, 8)
		require.Greater(t, r1, 96-9)
		require.Greater(t, 96-r0, 1)
		require.Greater(t, l1, 1)
	}
}

func TestSummaries(t *testing.T) {
	small := common.NewTensor(common.Shape{2, 2}, []float32{1, 2, 3, 4})
	s, err := Summaries(small)
	require.NoError(t, err)
	require.Equal(t, map[string]*common.Tensor{"": small}, s)

	rows, last := 7, 2000 // 56 000 bytes: summarised
	v := make([]float32, rows*last)
	wantArg := make([]int64, rows)
	for r := range rows {
		for j := range last {
			v[r*last+j] = float32(math.Sin(float64(r*last + j)))
		}
		wantArg[r] = int64((r * 311) % last)
		v[r*last+int(wantArg[r])] = 2 + float32(r)
	}
	s, err = Summaries(common.NewTensor(common.Shape{1, rows, last}, v))
	require.NoError(t, err)
	require.Equal(t, common.Shape{1, rows}, s["argmax"].Shape())
	require.Equal(t, wantArg, common.Data[int64](s["argmax"]))
	require.Equal(t, []float32{2, 3, 4, 5, 6, 7, 8}, common.Data[float32](s["max"]))
}

func TestRefFile(t *testing.T) {
	require.Equal(t, "0_softmax_11.tmp_0.npy", RefFile(0, "softmax_11.tmp_0", ""))
	require.Equal(t, "2_onnx__Out_1.argmax.npy", RefFile(2, "onnx::Out/1", "argmax"))
}
