package cpu_test

import (
	"context"
	"os"
	"testing"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
	"github.com/accel-go/accel/cpu"
)

// BenchmarkBigModels runs the ResNet-18- and MobileNetV2-shaped models at
// batch 1 on one thread. They are generated, not committed:
//
//	go run ./internal/cmd/genmodels -big -out testdata/models
func BenchmarkBigModels(b *testing.B) {
	for _, name := range []string{"mobilenetv2", "resnet18"} {
		b.Run(name, func(b *testing.B) {
			path := "../testdata/models/big/" + name + ".onnx"
			if _, err := os.Stat(path); err != nil {
				b.Skipf("%s not found: generate it with go run ./internal/cmd/genmodels -big -out testdata/models", path)
			}
			m, err := onnx.LoadModel(path, common.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			e, err := cpu.Compile(m, common.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			in := e.Inputs()[0]
			shape := common.Shape{1, 3, 224, 224}
			x := common.NewTensor(shape, make([]float32, shape.Size()))
			inputs := map[string]*common.Tensor{in.Name: x}
			if _, err := e.Run(context.Background(), inputs); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Run(context.Background(), inputs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
