package common

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

var (
	regMu    sync.RWMutex
	backends = map[string]Backend{}
)

// Register makes a backend available by name. It is called from each
// backend package's init and panics on a duplicate name.
func Register(b Backend) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := backends[b.Name()]; dup {
		panic("accel: backend registered twice: " + b.Name())
	}
	backends[b.Name()] = b
}

// Lookup returns the backend registered under name.
func Lookup(name string) (Backend, error) {
	regMu.RLock()
	b, ok := backends[name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: unknown backend %q (forgotten import of github.com/accel-go/accel/%s?); registered: %s",
			ErrUnavailable, name, name, strings.Join(Backends(), ", "))
	}
	return b, nil
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(backends))
	for n := range backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open compiles m on the named backend.
func Open(name string, m *Model, opts Options) (Engine, error) {
	b, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: nil model", ErrInvalidModel)
	}
	return b.Compile(m, opts)
}

// Stub is a registered backend that cannot run anything: built without its
// tag, or not written yet.
type Stub struct {
	BackendName string
	Reason      string // e.g. "not compiled in: build with -tags cuda"
}

// Name implements Backend.
func (s Stub) Name() string { return s.BackendName }

// Devices implements Backend: always an ErrUnavailable error.
func (s Stub) Devices() ([]Device, error) {
	return nil, fmt.Errorf("%w: %s: %s", ErrUnavailable, s.BackendName, s.Reason)
}

// Compile implements Backend: always an ErrUnavailable error.
func (s Stub) Compile(*Model, Options) (Engine, error) {
	_, err := s.Devices()
	return nil, err
}

// IsStub reports whether err says a backend is not compiled in or not
// implemented.
func IsStub(b Backend) bool {
	_, ok := b.(Stub)
	return ok
}

var _ = errors.New
