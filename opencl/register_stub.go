//go:build !opencl

package opencl

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "opencl", Reason: "not compiled in: build with -tags opencl"})
}
