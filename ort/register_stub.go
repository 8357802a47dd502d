//go:build !ort

package ort

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "ort", Reason: "not compiled in: build with -tags ort"})
}
