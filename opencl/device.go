//go:build opencl

package opencl

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/accel-go/accel/common"
)

//go:embed kernels.cl
var kernelSource string

// buildOptions are passed to every program build.
const buildOptions = "-cl-std=CL1.2"

// DeviceEnv names the environment variable that picks a device by a
// substring of its platform (or device) name.
const DeviceEnv = "ACCEL_OPENCL_DEVICE"

type devInfo struct {
	platform     platformID
	id           deviceID
	platformName string
	platformVer  string
	name, vendor string
	version      string
	driver       string
	extensions   string
	globalMem    uint64
	computeUnits uint32
	maxWorkGroup uint64
	localMem     uint64
	maxAlloc     uint64
	fp16         bool
	index        int
}

func listDevices() ([]*devInfo, error) {
	if err := load(); err != nil {
		return nil, err
	}
	ps, err := platforms()
	if err != nil {
		return nil, err
	}
	var out []*devInfo
	for _, p := range ps {
		ds, err := devicesOf(p)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			di := &devInfo{platform: p, id: d, index: len(out),
				platformName: platformString(p, infoPlatformName), platformVer: platformString(p, infoPlatformVersion),
				name: deviceString(d, infoDeviceName), vendor: deviceString(d, infoDeviceVendor),
				version: deviceString(d, infoDeviceVersion), driver: deviceString(d, infoDriverVersion),
				extensions: deviceString(d, infoDeviceExt), globalMem: deviceUint64(d, infoGlobalMem),
				computeUnits: deviceUint32(d, infoComputeUnits), maxWorkGroup: deviceSize(d, infoMaxWorkGroup),
				localMem: deviceUint64(d, infoLocalMem), maxAlloc: deviceUint64(d, infoMaxAlloc)}
			di.fp16 = strings.Contains(di.extensions, "cl_khr_fp16")
			out = append(out, di)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: opencl: %s loaded but no OpenCL platform has a device (is an ICD such as pocl-opencl-icd installed?)", common.ErrUnavailable, loadPath)
	}
	return out, nil
}

// pickDevice chooses by ACCEL_OPENCL_DEVICE, else by index.
func pickDevice(index int) (*devInfo, error) {
	ds, err := listDevices()
	if err != nil {
		return nil, err
	}
	if want := os.Getenv(DeviceEnv); want != "" {
		w := strings.ToLower(want)
		for _, d := range ds {
			if strings.Contains(strings.ToLower(d.platformName), w) || strings.Contains(strings.ToLower(d.name), w) {
				return d, nil
			}
		}
		return nil, fmt.Errorf("%w: opencl: %s=%q matches no platform or device", common.ErrUnavailable, DeviceEnv, want)
	}
	if index < 0 || index >= len(ds) {
		return nil, fmt.Errorf("%w: opencl: device %d requested, %d found", common.ErrUnavailable, index, len(ds))
	}
	return ds[index], nil
}

// runtime is one device's context, queue and built program, shared by
// every engine on that device for the life of the process.
type runtime struct {
	dev   *devInfo
	ctx   contextH
	queue queueH
	prog  programH
	// progHalf is the program built with ACCEL_HALF (float32 tensors
	// stored as float16), made on first use.
	progHalf programH
	mu       sync.Mutex // serializes enqueues from different engines
}

// halfOptions build the fp16-storage program.
const halfOptions = buildOptions + " -DACCEL_HALF"

// buildHalf builds the fp16-storage program once.
func (rt *runtime) buildHalf(cacheDir string) error {
	rtMu.Lock()
	defer rtMu.Unlock()
	if rt.progHalf != nil {
		return nil
	}
	p, err := buildProgram(rt.ctx, rt.dev, cacheDir, halfOptions)
	if err != nil {
		return err
	}
	rt.progHalf = p
	return nil
}

var (
	rtMu sync.Mutex
	rts  = map[deviceID]*runtime{}
)

func runtimeFor(d *devInfo, cacheDir string) (*runtime, error) {
	rtMu.Lock()
	defer rtMu.Unlock()
	if rt, ok := rts[d.id]; ok {
		return rt, nil
	}
	ctx, q, err := newContext(d.id)
	if err != nil {
		return nil, err
	}
	prog, err := buildProgram(ctx, d, cacheDir, buildOptions)
	if err != nil {
		releaseQueueContext(q, ctx)
		return nil, err
	}
	rt := &runtime{dev: d, ctx: ctx, queue: q, prog: prog}
	rts[d.id] = rt
	return rt, nil
}

// buildProgram builds the kernels, from a cached binary when one matches
// the source, options, device and driver.
func buildProgram(ctx contextH, d *devInfo, cacheDir, options string) (programH, error) {
	h := sha256.New()
	for _, s := range []string{kernelSource, options, d.platformName, d.platformVer, d.name, d.version, d.driver} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	dir := cacheDirFor(cacheDir)
	path := ""
	if dir != "" {
		path = filepath.Join(dir, key+".bin")
		if bin, err := os.ReadFile(path); err == nil && len(bin) > 0 {
			if p, err := buildBinary(ctx, d.id, bin, options); err == nil {
				return p, nil
			}
		}
	}
	p, err := buildSource(ctx, d.id, kernelSource, options)
	if err != nil {
		return nil, fmt.Errorf("opencl: building kernels for %s: %w", d.name, err)
	}
	if path != "" {
		if bin, err := programBinary(p); err == nil && len(bin) > 0 {
			if os.MkdirAll(dir, 0o755) == nil {
				tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
				if os.WriteFile(tmp, bin, 0o644) == nil {
					os.Rename(tmp, path)
				}
			}
		}
	}
	return p, nil
}

func cacheDirFor(opt string) string {
	if opt != "" {
		return filepath.Join(opt, "opencl")
	}
	if env := os.Getenv("ACCEL_CACHE_DIR"); env != "" {
		return filepath.Join(env, "opencl")
	}
	if uc, err := os.UserCacheDir(); err == nil {
		return filepath.Join(uc, "accel", "opencl")
	}
	return ""
}

// liveBuffers counts cl_mem objects this package holds.
var liveBuffers atomic.Int64

// LiveBuffers is the number of OpenCL buffers currently allocated by
// engines of this package (arenas and kernel parameter blocks).
func LiveBuffers() int64 { return liveBuffers.Load() }

func (rt *runtime) alloc(n int64) (memH, error) {
	m, err := newBuffer(rt.ctx, max(n, 4))
	if err != nil {
		return nil, err
	}
	liveBuffers.Add(1)
	return m, nil
}

func (rt *runtime) free(m memH) {
	if m != nil {
		releaseMem(m)
		liveBuffers.Add(-1)
	}
}

// arena is one device buffer implementing plan.Arena.
type arena struct {
	rt   *runtime
	mem  memH
	size int64
}

func (a *arena) Size() int64 { return a.size }

func (a *arena) bounds(off int64, n int) error {
	if a.mem == nil {
		return fmt.Errorf("%w: opencl: arena is closed", common.ErrUnavailable)
	}
	if off < 0 || off+int64(n) > a.size {
		return fmt.Errorf("%w: opencl: range [%d,%d) outside the %d-byte arena", common.ErrShape, off, off+int64(n), a.size)
	}
	return nil
}

func (a *arena) Write(off int64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := a.bounds(off, len(b)); err != nil {
		return err
	}
	a.rt.mu.Lock()
	defer a.rt.mu.Unlock()
	return writeBuffer(a.rt.queue, a.mem, off, b)
}

func (a *arena) Read(off int64, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := a.bounds(off, len(b)); err != nil {
		return err
	}
	a.rt.mu.Lock()
	defer a.rt.mu.Unlock()
	return readBuffer(a.rt.queue, a.mem, off, b)
}

func (a *arena) Close() error {
	if a.mem != nil {
		a.rt.mu.Lock()
		finish(a.rt.queue)
		a.rt.mu.Unlock()
		a.rt.free(a.mem)
		a.mem = nil
	}
	return nil
}
