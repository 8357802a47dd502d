//go:build !amd64

package cpu

// gemmKernels lists the micro-kernels this CPU can run, fastest first:
// only the portable one outside amd64.
func gemmKernels() []*microKernel { return []*microKernel{&gemmGo} }
