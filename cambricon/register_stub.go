//go:build !cambricon

package cambricon

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "cambricon", Reason: "not compiled in: build with -tags cambricon"})
}
