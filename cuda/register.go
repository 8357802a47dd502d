//go:build cuda

package cuda

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "cuda", Reason: "not implemented: the cuda tag is accepted but this backend has no engine yet"})
}
