// Package opencl is accel's OpenCL 1.2+ backend (build tag opencl).
//
// It loads libOpenCL.so.1 at run time (override the path with ACCEL_OPENCL_LIB), so the
// tagged build compiles on machines without the SDK. Built without the
// tag, the package registers a stub whose Devices reports
// "not compiled in: build with -tags opencl".
package opencl
