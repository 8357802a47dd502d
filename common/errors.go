package common

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the project returns wraps one of these, so
// callers can test with errors.Is.
var (
	// ErrUnavailable: a backend's library or device is missing.
	ErrUnavailable = errors.New("unavailable")
	// ErrInvalidModel: the model file or graph is malformed.
	ErrInvalidModel = errors.New("invalid model")
	// ErrUnsupported: a valid construct this backend cannot run.
	ErrUnsupported = errors.New("unsupported")
	// ErrShape: a tensor's shape or type does not fit where it is used.
	ErrShape = errors.New("shape mismatch")
	// ErrLimit: a configured limit (bytes, elements, nodes, depth, memory)
	// would be exceeded.
	ErrLimit = errors.New("limit exceeded")
)

// UnsupportedError says which operator a backend cannot run.
type UnsupportedError struct {
	Op      string // operator type, e.g. "Conv"
	Domain  string // "" for the default ai.onnx domain
	Opset   int64  // opset version of that domain the model imports
	Backend string // backend name
	Node    string // node name, when known
	Reason  string // optional detail (dtype, attribute)
}

func (e *UnsupportedError) Error() string {
	dom := e.Domain
	if dom == "" {
		dom = "ai.onnx"
	}
	s := fmt.Sprintf("%s: operator %s (domain %s, opset %d) not supported", e.Backend, e.Op, dom, e.Opset)
	if e.Node != "" {
		s += fmt.Sprintf(" at node %q", e.Node)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// NodeError wraps an error with the node it happened at.
type NodeError struct {
	Node string // node name (may be empty)
	Op   string
	Err  error
}

func (e *NodeError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("%s node: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("node %q (%s): %v", e.Node, e.Op, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

// Errorf is fmt.Errorf that wraps kind (one of the sentinels) in front.
func Errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}
