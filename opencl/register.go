//go:build opencl

package opencl

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "opencl", Reason: "not implemented: the opencl tag is accepted but this backend has no engine yet"})
}
