// Package trt is accel's TensorRT 10 backend (build tag tensorrt).
//
// TensorRT's API is C++, so unlike the other backends this one will build
// a small extern "C" shim against the installed SDK headers: the tensorrt
// tag needs the SDK at build time (BUILD.md). Built without the tag, the
// package registers a stub whose Devices reports
// "not compiled in: build with -tags tensorrt".
package trt
