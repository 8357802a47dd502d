//go:build cambricon

package cambricon

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "cambricon", Reason: "not implemented: the cambricon tag is accepted but this backend has no engine yet"})
}
