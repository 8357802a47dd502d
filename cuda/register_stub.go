//go:build !cuda

package cuda

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "cuda", Reason: "not compiled in: build with -tags cuda"})
}
