//go:build opencl

package opencl

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "accel_opencl.h"

#define ACCEL_DECL(name) static __typeof__(&name) p_##name;
ACCEL_CL_SYMS(ACCEL_DECL)
static void *accel_cl_handle;

// accel_cl_load dlopens path and resolves every entry point, all in one
// call (dlerror is per thread). With commit 0 it only checks and closes
// the library again. On failure it writes the reason to err and returns 0.
static int accel_cl_load(const char *path, int commit, char *err, size_t n) {
	if (commit && accel_cl_handle) return 1;
	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(err, n, "%s", e ? e : "dlopen failed");
		return 0;
	}
	size_t used = 0;
	int missing = 0;
	err[0] = 0;
#define ACCEL_LOAD(name) \
	{ void *f = dlsym(h, #name); \
	  if (!f) { \
		if (used < n) used += snprintf(err + used, n - used, "%s%s", missing ? ", " : "missing symbols: ", #name); \
		missing++; \
	  } else if (commit) { p_##name = (__typeof__(p_##name))f; } }
	ACCEL_CL_SYMS(ACCEL_LOAD)
	if (missing || !commit) {
		dlclose(h);
		return missing ? 0 : 1;
	}
	accel_cl_handle = h;
	return 1;
}

static cl_int acl_platforms(cl_uint n, cl_platform_id *ids, cl_uint *count) { return p_clGetPlatformIDs(n, ids, count); }
static cl_int acl_platform_info(cl_platform_id p, cl_uint what, size_t n, void *v, size_t *got) { return p_clGetPlatformInfo(p, what, n, v, got); }
static cl_int acl_devices(cl_platform_id p, cl_uint n, cl_device_id *ids, cl_uint *count) { return p_clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids, count); }
static cl_int acl_device_info(cl_device_id d, cl_uint what, size_t n, void *v, size_t *got) { return p_clGetDeviceInfo(d, what, n, v, got); }
static cl_context acl_context(cl_device_id d, cl_int *err) { return p_clCreateContext(NULL, 1, &d, NULL, NULL, err); }
static cl_int acl_release_context(cl_context c) { return p_clReleaseContext(c); }
static cl_command_queue acl_queue(cl_context c, cl_device_id d, cl_int *err) { return p_clCreateCommandQueue(c, d, 0, err); }
static cl_int acl_release_queue(cl_command_queue q) { return p_clReleaseCommandQueue(q); }
static cl_mem acl_buffer(cl_context c, size_t n, cl_int *err) { return p_clCreateBuffer(c, CL_MEM_READ_WRITE, n, NULL, err); }
static cl_int acl_release_mem(cl_mem m) { return p_clReleaseMemObject(m); }
static cl_int acl_write(cl_command_queue q, cl_mem m, size_t off, size_t n, const void *src) { return p_clEnqueueWriteBuffer(q, m, CL_TRUE, off, n, src, 0, NULL, NULL); }
static cl_int acl_read(cl_command_queue q, cl_mem m, size_t off, size_t n, void *dst) { return p_clEnqueueReadBuffer(q, m, CL_TRUE, off, n, dst, 0, NULL, NULL); }
static cl_program acl_program_source(cl_context c, const char *src, size_t n, cl_int *err) { return p_clCreateProgramWithSource(c, 1, &src, &n, err); }
static cl_program acl_program_binary(cl_context c, cl_device_id d, const unsigned char *bin, size_t n, cl_int *status, cl_int *err) {
	return p_clCreateProgramWithBinary(c, 1, &d, &n, &bin, status, err);
}
static cl_int acl_build(cl_program p, cl_device_id d, const char *opts) { return p_clBuildProgram(p, 1, &d, opts, NULL, NULL); }
static cl_int acl_build_log(cl_program p, cl_device_id d, size_t n, void *v, size_t *got) { return p_clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, n, v, got); }
static cl_int acl_binary_size(cl_program p, size_t *n) { return p_clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof(size_t), n, NULL); }
static cl_int acl_binary(cl_program p, unsigned char *dst) { return p_clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof(dst), &dst, NULL); }
static cl_int acl_release_program(cl_program p) { return p_clReleaseProgram(p); }
static cl_kernel acl_kernel(cl_program p, const char *name, cl_int *err) { return p_clCreateKernel(p, name, err); }
static cl_int acl_release_kernel(cl_kernel k) { return p_clReleaseKernel(k); }
static cl_int acl_arg_mem(cl_kernel k, cl_uint i, cl_mem m) { return p_clSetKernelArg(k, i, sizeof(cl_mem), &m); }
static cl_int acl_launch(cl_command_queue q, cl_kernel k, cl_uint dims, size_t g0, size_t g1, size_t g2, size_t l0, size_t l1, size_t l2) {
	size_t g[3] = {g0, g1, g2}, l[3] = {l0, l1, l2};
	return p_clEnqueueNDRangeKernel(q, k, dims, NULL, g, l0 ? l : NULL, 0, NULL, NULL);
}
static cl_int acl_finish(cl_command_queue q) { return p_clFinish(q); }
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/accel-go/accel/common"
)

// libName is the ICD loader's SONAME; LibEnv overrides the path.
const (
	libName = "libOpenCL.so.1"
	// LibEnv names the environment variable that overrides the path of
	// the OpenCL library.
	LibEnv = "ACCEL_OPENCL_LIB"
)

var (
	loadOnce sync.Once
	loadErr  error
	loadPath string
)

func libPath() string {
	if p := os.Getenv(LibEnv); p != "" {
		return p
	}
	return libName
}

// load opens the OpenCL library once.
func load() error {
	loadOnce.Do(func() {
		loadPath = libPath()
		loadErr = openLib(loadPath, true)
	})
	return loadErr
}

// openLib dlopens path and resolves the symbol table; commit false only
// checks.
func openLib(path string, commit bool) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [2048]C.char
	c := C.int(0)
	if commit {
		c = 1
	}
	if C.accel_cl_load(cpath, c, &buf[0], C.size_t(len(buf))) == 0 {
		return fmt.Errorf("%w: opencl: cannot load %s (set %s to its path): %s", common.ErrUnavailable, path, LibEnv, C.GoString(&buf[0]))
	}
	return nil
}

// clError is a failed OpenCL call: the operation and the status code.
type clError struct {
	op   string
	code int
}

func (e *clError) Error() string {
	return fmt.Sprintf("opencl: %s failed: %s (%d)", e.op, codeName(e.code), e.code)
}

// Is maps allocation failures to ErrLimit, build failures to
// ErrUnsupported and everything else to ErrUnavailable.
func (e *clError) Is(target error) bool {
	switch e.code {
	case -4, -5, -6: // MEM_OBJECT_ALLOCATION_FAILURE, OUT_OF_RESOURCES, OUT_OF_HOST_MEMORY
		return target == common.ErrLimit
	case -11:
		return target == common.ErrUnsupported
	}
	return target == common.ErrUnavailable
}

func codeName(c int) string {
	names := map[int]string{
		0: "CL_SUCCESS", -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
		-4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
		-11: "CL_BUILD_PROGRAM_FAILURE", -30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT",
		-36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT", -42: "CL_INVALID_BINARY", -44: "CL_INVALID_PROGRAM",
		-46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL", -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS",
		-54: "CL_INVALID_WORK_GROUP_SIZE", -61: "CL_INVALID_BUFFER_SIZE", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
	}
	if s, ok := names[c]; ok {
		return s
	}
	return "CL_ERROR"
}

func check(op string, code C.cl_int) error {
	if code != C.CL_SUCCESS {
		return &clError{op: op, code: int(code)}
	}
	return nil
}

type (
	platformID = C.cl_platform_id
	deviceID   = C.cl_device_id
	contextH   = C.cl_context
	queueH     = C.cl_command_queue
	memH       = C.cl_mem
	programH   = C.cl_program
	kernelH    = C.cl_kernel
)

// Device info keys used.
const (
	infoPlatformName    = 0x0902
	infoPlatformVersion = 0x0901
	infoPlatformVendor  = 0x0903
	infoDeviceName      = 0x102B
	infoDeviceVendor    = 0x102C
	infoDriverVersion   = 0x102D
	infoDeviceVersion   = 0x102F
	infoDeviceExt       = 0x1030
	infoGlobalMem       = 0x101F
	infoComputeUnits    = 0x1002
	infoMaxWorkGroup    = 0x1004
	infoLocalMem        = 0x1023
	infoMaxAlloc        = 0x1010
)

func platforms() ([]platformID, error) {
	var n C.cl_uint
	if code := C.acl_platforms(0, nil, &n); code != C.CL_SUCCESS {
		if code == -1001 {
			return nil, nil
		}
		return nil, check("clGetPlatformIDs", code)
	}
	if n == 0 {
		return nil, nil
	}
	ids := make([]platformID, n)
	if err := check("clGetPlatformIDs", C.acl_platforms(n, &ids[0], nil)); err != nil {
		return nil, err
	}
	return ids, nil
}

func platformString(p platformID, what int) string {
	var n C.size_t
	if C.acl_platform_info(p, C.cl_uint(what), 0, nil, &n) != C.CL_SUCCESS || n == 0 {
		return ""
	}
	buf := make([]byte, n)
	if C.acl_platform_info(p, C.cl_uint(what), n, unsafe.Pointer(&buf[0]), nil) != C.CL_SUCCESS {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00")
}

func devicesOf(p platformID) ([]deviceID, error) {
	var n C.cl_uint
	if code := C.acl_devices(p, 0, nil, &n); code != C.CL_SUCCESS {
		if code == -1 {
			return nil, nil
		}
		return nil, check("clGetDeviceIDs", code)
	}
	if n == 0 {
		return nil, nil
	}
	ids := make([]deviceID, n)
	if err := check("clGetDeviceIDs", C.acl_devices(p, n, &ids[0], nil)); err != nil {
		return nil, err
	}
	return ids, nil
}

func deviceString(d deviceID, what int) string {
	var n C.size_t
	if C.acl_device_info(d, C.cl_uint(what), 0, nil, &n) != C.CL_SUCCESS || n == 0 {
		return ""
	}
	buf := make([]byte, n)
	if C.acl_device_info(d, C.cl_uint(what), n, unsafe.Pointer(&buf[0]), nil) != C.CL_SUCCESS {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00")
}

func deviceUint64(d deviceID, what int) uint64 {
	var v C.cl_ulong
	if C.acl_device_info(d, C.cl_uint(what), C.size_t(unsafe.Sizeof(v)), unsafe.Pointer(&v), nil) != C.CL_SUCCESS {
		return 0
	}
	return uint64(v)
}

func deviceUint32(d deviceID, what int) uint32 {
	var v C.cl_uint
	if C.acl_device_info(d, C.cl_uint(what), C.size_t(unsafe.Sizeof(v)), unsafe.Pointer(&v), nil) != C.CL_SUCCESS {
		return 0
	}
	return uint32(v)
}

func deviceSize(d deviceID, what int) uint64 {
	var v C.size_t
	if C.acl_device_info(d, C.cl_uint(what), C.size_t(unsafe.Sizeof(v)), unsafe.Pointer(&v), nil) != C.CL_SUCCESS {
		return 0
	}
	return uint64(v)
}

func newContext(d deviceID) (contextH, queueH, error) {
	var code C.cl_int
	ctx := C.acl_context(d, &code)
	if err := check("clCreateContext", code); err != nil {
		return nil, nil, err
	}
	q := C.acl_queue(ctx, d, &code)
	if err := check("clCreateCommandQueue", code); err != nil {
		C.acl_release_context(ctx)
		return nil, nil, err
	}
	return ctx, q, nil
}

func newBuffer(ctx contextH, n int64) (memH, error) {
	var code C.cl_int
	m := C.acl_buffer(ctx, C.size_t(n), &code)
	if err := check(fmt.Sprintf("clCreateBuffer(%d bytes)", n), code); err != nil {
		return nil, err
	}
	return m, nil
}

func releaseMem(m memH) { C.acl_release_mem(m) }

func writeBuffer(q queueH, m memH, off int64, b []byte) error {
	return check("clEnqueueWriteBuffer", C.acl_write(q, m, C.size_t(off), C.size_t(len(b)), unsafe.Pointer(&b[0])))
}

func readBuffer(q queueH, m memH, off int64, b []byte) error {
	return check("clEnqueueReadBuffer", C.acl_read(q, m, C.size_t(off), C.size_t(len(b)), unsafe.Pointer(&b[0])))
}

func finish(q queueH) error { return check("clFinish", C.acl_finish(q)) }

// buildSource compiles src; on failure the error carries the whole build
// log.
func buildSource(ctx contextH, d deviceID, src, opts string) (programH, error) {
	csrc := C.CString(src)
	defer C.free(unsafe.Pointer(csrc))
	var code C.cl_int
	p := C.acl_program_source(ctx, csrc, C.size_t(len(src)), &code)
	if err := check("clCreateProgramWithSource", code); err != nil {
		return nil, err
	}
	if err := build(p, d, opts); err != nil {
		C.acl_release_program(p)
		return nil, err
	}
	return p, nil
}

func buildBinary(ctx contextH, d deviceID, bin []byte, opts string) (programH, error) {
	var code, status C.cl_int
	p := C.acl_program_binary(ctx, d, (*C.uchar)(unsafe.Pointer(&bin[0])), C.size_t(len(bin)), &status, &code)
	if err := check("clCreateProgramWithBinary", code); err != nil {
		return nil, err
	}
	if err := build(p, d, opts); err != nil {
		C.acl_release_program(p)
		return nil, err
	}
	return p, nil
}

func build(p programH, d deviceID, opts string) error {
	copts := C.CString(opts)
	defer C.free(unsafe.Pointer(copts))
	code := C.acl_build(p, d, copts)
	if code == C.CL_SUCCESS {
		return nil
	}
	var n C.size_t
	log := ""
	if C.acl_build_log(p, d, 0, nil, &n) == C.CL_SUCCESS && n > 0 {
		buf := make([]byte, n)
		if C.acl_build_log(p, d, n, unsafe.Pointer(&buf[0]), nil) == C.CL_SUCCESS {
			log = strings.TrimRight(string(buf), "\x00")
		}
	}
	return fmt.Errorf("%w\nbuild log:\n%s", check("clBuildProgram", code), log)
}

func programBinary(p programH) ([]byte, error) {
	var n C.size_t
	if err := check("clGetProgramInfo(BINARY_SIZES)", C.acl_binary_size(p, &n)); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if err := check("clGetProgramInfo(BINARIES)", C.acl_binary(p, (*C.uchar)(buf))); err != nil {
		return nil, err
	}
	return C.GoBytes(buf, C.int(n)), nil
}

func newKernel(p programH, name string) (kernelH, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var code C.cl_int
	k := C.acl_kernel(p, cname, &code)
	if err := check("clCreateKernel("+name+")", code); err != nil {
		return nil, err
	}
	return k, nil
}

func releaseKernel(k kernelH) { C.acl_release_kernel(k) }

func setArgMem(k kernelH, i int, m memH) error {
	return check("clSetKernelArg", C.acl_arg_mem(k, C.cl_uint(i), m))
}

func launch(q queueH, k kernelH, g, l [3]int, dims int) error {
	return check("clEnqueueNDRangeKernel", C.acl_launch(q, k, C.cl_uint(dims),
		C.size_t(g[0]), C.size_t(g[1]), C.size_t(g[2]), C.size_t(l[0]), C.size_t(l[1]), C.size_t(l[2])))
}

func releaseQueueContext(q queueH, ctx contextH) {
	if q != nil {
		C.acl_release_queue(q)
	}
	if ctx != nil {
		C.acl_release_context(ctx)
	}
}
