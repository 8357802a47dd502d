//go:build !tensorrt

package trt

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "trt", Reason: "not compiled in: build with -tags tensorrt"})
}
