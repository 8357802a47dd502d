// Package cuda is accel's CUDA (driver API, NVRTC, cuBLAS, cuDNN) backend (build tag cuda).
//
// It loads libcuda.so.1 and the CUDA libraries at run time (override the path with ACCEL_CUDA_LIB), so the
// tagged build compiles on machines without the SDK. Built without the
// tag, the package registers a stub whose Devices reports
// "not compiled in: build with -tags cuda".
package cuda
