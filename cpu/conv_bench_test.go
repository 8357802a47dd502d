package cpu

import (
	"math/rand"
	"testing"

	"github.com/accel-go/accel/common"
)

// BenchmarkConvLayers times single Conv layers shaped like those of
// ResNet-18 and MobileNetV2 (batch 1, bias, fused Relu) on one thread and
// reports GFLOP/s (2 flops per multiply-add of the direct method, so
// Winograd layers can exceed the machine's peak); "/t2" runs use two
// threads, "/direct" runs turn Winograd off. Depthwise layers also run
// through the general im2col path ("general") for comparison.
func BenchmarkConvLayers(b *testing.B) {
	type layer struct {
		name       string
		cin, h, w  int
		cout, k, s int
		group, pad int
		generalToo bool
	}
	layers := []layer{
		{"resnet_conv1_7x7s2", 3, 224, 224, 64, 7, 2, 1, 3, false},
		{"resnet_3x3_64_56", 64, 56, 56, 64, 3, 1, 1, 1, false},
		{"resnet_3x3s2_64to128_56", 64, 56, 56, 128, 3, 2, 1, 1, false},
		{"resnet_3x3_128_28", 128, 28, 28, 128, 3, 1, 1, 1, false},
		{"resnet_3x3_256_14", 256, 14, 14, 256, 3, 1, 1, 1, false},
		{"resnet_3x3_512_7", 512, 7, 7, 512, 3, 1, 1, 1, false},
		{"mbv2_dw3x3_144_56", 144, 56, 56, 144, 3, 1, 144, 1, true},
		{"mbv2_dw3x3s2_96_112", 96, 112, 112, 96, 3, 2, 96, 1, true},
		{"mbv2_pw_32to16_112", 32, 112, 112, 16, 1, 1, 1, 0, false},
		{"mbv2_pw_960to160_7", 960, 7, 7, 160, 1, 1, 1, 0, false},
		{"mbv2_pw_16to96_112", 16, 112, 112, 96, 1, 1, 1, 0, false},
		{"mbv2_pw_144to24_56", 144, 56, 56, 24, 1, 1, 1, 0, false},
		{"mbv2_pw_192to32_28", 192, 28, 28, 32, 1, 1, 1, 0, false},
		{"mbv2_pw_64to384_14", 64, 14, 14, 384, 1, 1, 1, 0, false},
		{"mbv2_dw3x3_384_14", 384, 14, 14, 384, 3, 1, 384, 1, false},
	}
	for _, l := range layers {
		r := rand.New(rand.NewSource(1))
		xs := common.Shape{1, l.cin, l.h, l.w}
		ws := common.Shape{l.cout, l.cin / l.group, l.k, l.k}
		x := common.NewTensor(xs, nnRand32(r, xs.Size()))
		w := common.NewTensor(ws, nnRand32(r, ws.Size()))
		bias := common.NewTensor(common.Shape{l.cout}, nnRand32(r, l.cout))
		n := nnNode("Conv", 11, map[string]any{"group": l.group, "strides": []int{l.s, l.s}, "pads": []int{l.pad, l.pad, l.pad, l.pad}})
		n.Fused = nnNode("Relu", 14, nil)
		oh, ow := (l.h+2*l.pad-l.k)/l.s+1, (l.w+2*l.pad-l.k)/l.s+1
		flops := 2 * float64(l.cout*oh*ow) * float64(l.cin/l.group*l.k*l.k)
		// direct turns Winograd off (through the engine's option).
		run := func(name string, threads int, direct bool) {
			if threads > 1 {
				name += "/t2"
			}
			b.Run(name, func(b *testing.B) {
				c := nnCtx(b, threads)
				// w is a constant weight, as in a model: transformed and
				// packed once.
				c.eng.owned = map[uintptr]bool{dataPtr(w): true}
				c.eng.directConv = direct
				in := []*common.Tensor{x, w, bias}
				for i := 0; i < b.N; i++ {
					if _, err := convKernel(c, n, in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		for _, threads := range []int{1, 2} {
			run(l.name, threads, false)
		}
		if g, _ := planConv(n, xs, ws, bias); g.winograd() {
			// The same layer without Winograd, for comparison.
			for _, threads := range []int{1, 2} {
				run(l.name+"/direct", threads, true)
			}
		}
		if !l.generalToo {
			continue
		}
		b.Run(l.name+"/general", func(b *testing.B) {
			c := nnCtx(b, 1)
			g, err := planConv(n, xs, ws, bias)
			if err != nil {
				b.Fatal(err)
			}
			y := make([]float32, l.cout*oh*ow)
			for i := 0; i < b.N; i++ {
				convForward(c, g, common.Data[float32](x), common.Data[float32](w), y, sgemmEpi, nil, &colBufs32)
				convEpilogue(c, 1, l.cout, oh*ow, common.Data[float32](bias), n.Fused, y)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
