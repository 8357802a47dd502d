/* accel_opencl.h: the OpenCL entry points the opencl backend resolves
 * from libOpenCL.so.1 at run time. Types come from the Khronos headers
 * (opencl-headers); this file only lists the names, once, as an X-macro:
 * ACCEL_CL_SYMS(X) calls X(name) for each entry point. */
#ifndef ACCEL_OPENCL_H
#define ACCEL_OPENCL_H

#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#define ACCEL_CL_SYMS(X) \
	X(clGetPlatformIDs) \
	X(clGetPlatformInfo) \
	X(clGetDeviceIDs) \
	X(clGetDeviceInfo) \
	X(clCreateContext) \
	X(clReleaseContext) \
	X(clCreateCommandQueue) \
	X(clReleaseCommandQueue) \
	X(clCreateBuffer) \
	X(clReleaseMemObject) \
	X(clEnqueueWriteBuffer) \
	X(clEnqueueReadBuffer) \
	X(clCreateProgramWithSource) \
	X(clCreateProgramWithBinary) \
	X(clBuildProgram) \
	X(clGetProgramBuildInfo) \
	X(clGetProgramInfo) \
	X(clReleaseProgram) \
	X(clCreateKernel) \
	X(clReleaseKernel) \
	X(clSetKernelArg) \
	X(clEnqueueNDRangeKernel) \
	X(clFinish)

#endif
