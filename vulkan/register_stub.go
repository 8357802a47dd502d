//go:build !vulkan

package vulkan

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "vulkan", Reason: "not compiled in: build with -tags vulkan"})
}
