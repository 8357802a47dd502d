// Package opencl is accel's OpenCL 1.2+ backend (build tag opencl).
//
// It loads the ICD loader libOpenCL.so.1 at run time (override the path
// with ACCEL_OPENCL_LIB), so the tagged build compiles on machines without
// the SDK; the Khronos headers (package opencl-headers) are needed at build
// time only. Built without the tag, the package registers a stub whose
// Devices reports "not compiled in: build with -tags opencl".
//
// Devices lists every device of every platform. Compile uses the device
// Options.Device indexes, or the first whose platform or device name
// contains ACCEL_OPENCL_DEVICE. Each device gets one context, one in-order
// queue and one program for the life of the process; the program is built
// from OpenCL C 1.2 sources embedded in the binary and its binary is cached
// on disk under Options.CacheDir, $ACCEL_CACHE_DIR or the user cache dir,
// keyed by source hash, options, device and driver version.
//
// Engines are built by common/plan: nodes with an OpenCL kernel (float32
// Conv, with 1x1, 3x3 stride-1 and depthwise fast paths, Gemm, MatMul,
// elementwise and activations, pools, Softmax, BatchNormalization,
// LayerNormalization, InstanceNormalization, Resize in nearest, linear
// and cubic modes, the Reduce ops; Transpose, Concat, Slice, Split, Pad
// and Gather of any 1/2/4/8-byte type; Cast between float32, int32,
// int64, bool and uint8; and the fused Conv/Gemm activation) run on the
// device, everything else on the CPU engine. Shape-like inputs (Slice
// starts, Pad pads, Resize scales, Reduce axes) must be known when the
// plan is made: initializers, or small values the plan records and checks
// on each run. Integer tensors of at most 64 elements (shape arithmetic)
// stay on the CPU for Slice, Split, Pad, Gather and Cast. Gather indices
// read on the device are not range-checked
// there: out-of-range ones give zeros (constant indices are checked).
//
// With Options.Precision set to PrecisionFP16 on a device that has
// cl_khr_fp16, float32 tensors are stored as float16 in device memory
// (half the memory and bandwidth; kernels compute in float32 and round on
// every store); other devices keep float32.
// Each engine owns one device arena and a small parameter buffer per
// device step; Close frees them. Run serializes calls on one engine;
// tensors it returns are Go memory the caller owns.
package opencl
