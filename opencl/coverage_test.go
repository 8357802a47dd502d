//go:build opencl

package opencl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/cpu"
)

// notYet lists CPU ops with no OpenCL kernel that the task list names;
// they run on the CPU engine through the plan's fallback.
var notYet = map[string]string{
	"Split":                 "no device kernel yet (strided copy exists; needs the split sizes)",
	"Slice":                 "no device kernel yet",
	"Pad":                   "no device kernel yet",
	"Gather":                "no device kernel yet",
	"Resize":                "no device kernel yet",
	"ReduceMean":            "no device kernel yet",
	"ReduceSum":             "no device kernel yet",
	"ReduceMax":             "no device kernel yet",
	"LayerNormalization":    "no device kernel yet",
	"InstanceNormalization": "no device kernel yet",
	"Cast":                  "no device kernel yet",
}

func TestKernelTableCoverage(t *testing.T) {
	for op := range deviceOps {
		require.True(t, cpu.Supports("", op) || !cpu.Supports("", "Add"), "device op %s has no CPU reference", op)
		_, listed := notYet[op]
		require.False(t, listed, "%s has a kernel and is still in notYet", op)
	}
	for op := range notYet {
		require.True(t, cpu.Supports("", op), "notYet op %s is not a CPU op", op)
	}
}
