// Package ort is accel's ONNX Runtime backend (build tag ort).
//
// It loads libonnxruntime.so.1 at run time (override the path with ACCEL_ORT_LIB), so the
// tagged build compiles on machines without the SDK. Built without the
// tag, the package registers a stub whose Devices reports
// "not compiled in: build with -tags ort".
package ort
