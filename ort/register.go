//go:build ort

package ort

import "github.com/accel-go/accel/common"

func init() {
	common.Register(common.Stub{BackendName: "ort", Reason: "not implemented: the ort tag is accepted but this backend has no engine yet"})
}
