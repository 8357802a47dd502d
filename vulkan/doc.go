// Package vulkan is accel's Vulkan 1.1+ compute backend (build tag vulkan).
//
// It loads libvulkan.so.1 at run time (override the path with ACCEL_VULKAN_LIB), so the
// tagged build compiles on machines without the SDK. Built without the
// tag, the package registers a stub whose Devices reports
// "not compiled in: build with -tags vulkan".
package vulkan
