//go:build ort

package ort

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ortgo "github.com/yalue/onnxruntime_go"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/onnx"
)

// Name is the name the backend registers under.
const Name = "ort"

// EnvLib overrides the library path.
const EnvLib = "ACCEL_ORT_LIB"

// CacheVersion is the ONNX Runtime release scripts/fetch-onnxruntime.sh
// puts in the cache.
const CacheVersion = "1.30.0"

func init() { common.Register(Backend{}) }

// Backend runs models through ONNX Runtime's CPU execution provider (and
// the CUDA or TensorRT providers when the loaded library has them).
type Backend struct{}

var (
	initOnce sync.Once
	initErr  error
	libPath  string
	version  string
)

// candidates lists the library paths tried, in order.
func candidates() []string {
	if p := os.Getenv(EnvLib); p != "" {
		return []string{p}
	}
	var c []string
	if dir := cacheDir(); dir != "" {
		c = append(c, filepath.Join(dir, "onnxruntime", CacheVersion, "libonnxruntime.so.1"))
	}
	for _, d := range []string{"/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/opt/onnxruntime/lib"} {
		c = append(c, filepath.Join(d, "libonnxruntime.so.1"), filepath.Join(d, "libonnxruntime.so"))
	}
	return append(c, "libonnxruntime.so.1") // the dynamic linker's search path
}

// cacheDir is where scripts/fetch-onnxruntime.sh stores the library:
// $ACCEL_CACHE_DIR, else the user cache dir's accel folder.
func cacheDir() string {
	if d := os.Getenv("ACCEL_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "accel")
	}
	return ""
}

func load() error {
	initOnce.Do(func() {
		var tried []string
		for _, p := range candidates() {
			if strings.Contains(p, "/") {
				if _, err := os.Stat(p); err != nil {
					tried = append(tried, p+" (absent)")
					continue
				}
			}
			ortgo.SetSharedLibraryPath(p)
			if err := ortgo.InitializeEnvironment(ortgo.WithLogLevelFatal()); err != nil {
				tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
				continue
			}
			libPath, version = p, ortgo.GetVersion()
			return
		}
		initErr = fmt.Errorf("%w: ort: ONNX Runtime library not found; tried %s; set %s to libonnxruntime.so.1 (scripts/fetch-onnxruntime.sh fetches one)",
			common.ErrUnavailable, strings.Join(tried, ", "), EnvLib)
	})
	return initErr
}

// Name implements common.Backend.
func (Backend) Name() string { return Name }

// Devices implements common.Backend: the CPU execution provider.
func (Backend) Devices() ([]common.Device, error) {
	if err := load(); err != nil {
		return nil, err
	}
	return []common.Device{{Name: "CPU execution provider", Vendor: "ONNX Runtime", Library: libPath, Version: version}}, nil
}

// Engine is a model compiled into an ONNX Runtime session. Run may be
// called concurrently (ONNX Runtime sessions are thread-safe).
type Engine struct {
	sess    *ortgo.DynamicAdvancedSession
	opts    *ortgo.SessionOptions
	plan    *rewrite
	inputs  []common.TensorInfo
	outputs []common.TensorInfo
	mu      sync.RWMutex
	closed  bool
}

// Compile implements common.Backend. The model is re-encoded (with small
// rewrites that work around limits of the Go binding, see rewrite.go) and
// handed to ONNX Runtime with all graph optimizations on.
func (Backend) Compile(m *common.Model, opts common.Options) (common.Engine, error) {
	if err := load(); err != nil {
		return nil, err
	}
	plan, err := planRewrite(m)
	if err != nil {
		return nil, err
	}
	data, err := onnx.EncodeModel(plan.model)
	if err != nil {
		return nil, fmt.Errorf("ort: encoding the model: %w", err)
	}
	so, err := ortgo.NewSessionOptions()
	if err != nil {
		return nil, ortErr("creating session options", err)
	}
	e := &Engine{opts: so, plan: plan}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, ortErr("setting threads", err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, ortErr("setting threads", err)
	}
	if err := so.SetGraphOptimizationLevel(ortgo.GraphOptimizationLevelEnableAll); err != nil {
		return nil, ortErr("setting the optimization level", err)
	}
	for _, p := range opts.Providers {
		if err := appendProvider(so, p, opts.Device); err != nil {
			return nil, err
		}
	}
	e.sess, err = ortgo.NewDynamicAdvancedSessionWithONNXData(data, plan.inNames, plan.outNames, so)
	if err != nil {
		return nil, ortErr("creating the session", err)
	}
	for _, in := range m.Graph.Inputs {
		if _, isInit := m.Graph.Initializers[in.Name]; !isInit {
			e.inputs = append(e.inputs, common.InfoOf(in))
		}
	}
	for _, o := range m.Graph.Outputs {
		e.outputs = append(e.outputs, common.InfoOf(o))
	}
	ok = true
	return e, nil
}

func appendProvider(so *ortgo.SessionOptions, name string, device int) error {
	switch strings.ToLower(name) {
	case "", "cpu":
		return nil
	case "cuda":
		po, err := ortgo.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("%w: ort: the loaded ONNX Runtime (%s) has no CUDA execution provider: %v", common.ErrUnavailable, libPath, err)
		}
		defer po.Destroy()
		if err := po.Update(map[string]string{"device_id": fmt.Sprint(device)}); err != nil {
			return fmt.Errorf("%w: ort: CUDA execution provider: %v", common.ErrUnavailable, err)
		}
		if err := so.AppendExecutionProviderCUDA(po); err != nil {
			return fmt.Errorf("%w: ort: the loaded ONNX Runtime (%s) cannot use the CUDA execution provider: %v", common.ErrUnavailable, libPath, err)
		}
		return nil
	case "tensorrt":
		po, err := ortgo.NewTensorRTProviderOptions()
		if err != nil {
			return fmt.Errorf("%w: ort: the loaded ONNX Runtime (%s) has no TensorRT execution provider: %v", common.ErrUnavailable, libPath, err)
		}
		defer po.Destroy()
		if err := so.AppendExecutionProviderTensorRT(po); err != nil {
			return fmt.Errorf("%w: ort: the loaded ONNX Runtime (%s) cannot use the TensorRT execution provider: %v", common.ErrUnavailable, libPath, err)
		}
		return nil
	}
	return fmt.Errorf("%w: ort: unknown execution provider %q (want cpu, cuda or tensorrt)", common.ErrUnsupported, name)
}

func ortErr(what string, err error) error {
	return fmt.Errorf("ort: %s: %w", what, errors.Join(common.ErrUnsupported, err))
}

// Inputs implements common.Engine.
func (e *Engine) Inputs() []common.TensorInfo { return e.inputs }

// Outputs implements common.Engine.
func (e *Engine) Outputs() []common.TensorInfo { return e.outputs }

// Close implements common.Engine: it releases the session. It waits for
// runs in progress.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if e.sess != nil {
		e.sess.Destroy()
		e.sess = nil
	}
	if e.opts != nil {
		e.opts.Destroy()
		e.opts = nil
	}
	return nil
}

// Run implements common.Engine. Inputs are copied into ONNX Runtime values
// for the call only; outputs are copied into Go memory the caller owns.
// Cancelling ctx sets the run's terminate flag.
func (e *Engine) Run(ctx context.Context, inputs map[string]*common.Tensor) (map[string]*common.Tensor, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("%w: ort: engine is closed", common.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run stopped: %w", err)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	in, err := e.plan.inputs(e.inputs, inputs, &pin)
	defer destroyAll(in)
	if err != nil {
		return nil, err
	}
	ro, err := ortgo.NewRunOptions()
	if err != nil {
		return nil, ortErr("creating run options", err)
	}
	defer ro.Destroy()
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-ctx.Done():
			ro.Terminate()
		case <-done:
		}
	}()
	outs := make([]ortgo.Value, len(e.plan.outNames))
	err = e.sess.RunWithOptions(in, outs, ro)
	close(done)
	watcher.Wait()
	defer destroyAll(outs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("run stopped: %w", ctx.Err())
		}
		return nil, fmt.Errorf("ort: run: %w", err)
	}
	return e.plan.outputs(outs)
}

func destroyAll(vs []ortgo.Value) {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}
