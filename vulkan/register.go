//go:build vulkan

package vulkan

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "vulkan", Reason: "not implemented: the vulkan tag is accepted but this backend has no engine yet"})
}
