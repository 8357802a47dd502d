// Package cambricon is accel's Cambricon MLU (CNRT + CNNL) backend (build tag cambricon).
//
// It loads libcnrt.so and libcnnl.so at run time (override the path with ACCEL_CNRT_LIB), so the
// tagged build compiles on machines without the SDK. Built without the
// tag, the package registers a stub whose Devices reports
// "not compiled in: build with -tags cambricon".
package cambricon
