//go:build tensorrt

package trt

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "trt", Reason: "not implemented: the tensorrt tag is accepted but this backend has no engine yet"})
}
