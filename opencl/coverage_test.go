//go:build opencl

package opencl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/cpu"
)

// notYet lists CPU ops with no OpenCL kernel that the task list names;
// they run on the CPU engine through the plan's fallback.
var notYet = map[string]string{}

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
