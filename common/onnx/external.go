package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/accel-go/accel/common"
)

// extDir confines external data reads to one folder.
type extDir struct {
	dir  string
	root *os.Root
}

func openExtDir(dir string) (*extDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: opening model folder: %v", common.ErrInvalidModel, err)
	}
	return &extDir{dir: dir, root: r}, nil
}

func (e *extDir) close() {
	if e != nil && e.root != nil {
		e.root.Close()
	}
}

// cleanLocation checks an external data location and returns it as a
// slash-separated relative path.
func cleanLocation(loc string) (string, error) {
	switch {
	case loc == "":
		return "", invalidf("external data has an empty location")
	case strings.ContainsRune(loc, 0):
		return "", invalidf("external data location %q contains a NUL byte", loc)
	case strings.Contains(loc, "://"):
		return "", invalidf("external data location %q is a URL; only files next to the model are allowed", loc)
	}
	p := strings.ReplaceAll(loc, "\\", "/")
	if strings.HasPrefix(p, "/") || (len(p) >= 2 && p[1] == ':') {
		return "", invalidf("external data location %q is an absolute path; it must be relative to the model's folder", loc)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", invalidf("external data location %q leaves the model's folder", loc)
		}
	}
	p = path.Clean(p)
	if p == "." {
		return "", invalidf("external data location %q names the model's folder itself", loc)
	}
	return p, nil
}

// readExternal reads want bytes of external data described by entries.
func (d *decoder) readExternal(entries []extEntry, want int) ([]byte, error) {
	var loc string
	var off, length int64 = 0, -1
	hasLoc := false
	for _, e := range entries {
		switch e.key {
		case "location":
			loc, hasLoc = e.value, true
		case "offset", "length":
			v, err := strconv.ParseInt(e.value, 10, 64)
			if err != nil || v < 0 {
				return nil, invalidf("external data %s %q is not a non-negative integer", e.key, e.value)
			}
			if e.key == "offset" {
				off = v
			} else {
				length = v
			}
		}
	}
	if !hasLoc {
		return nil, invalidf("external data has no location")
	}
	if d.ext == nil {
		return nil, invalidf("tensor uses external data %q: %s", loc, d.noExt)
	}
	p, err := cleanLocation(loc)
	if err != nil {
		return nil, err
	}
	// Refuse symlinks anywhere on the path, and anything but a regular file.
	parts := strings.Split(p, "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		st, err := d.ext.root.Lstat(sub)
		if err != nil {
			return nil, invalidf("external data %q: %v", loc, unwrapPath(err))
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return nil, invalidf("external data %q: %s is a symbolic link", loc, sub)
		}
		if i < len(parts)-1 && !st.IsDir() {
			return nil, invalidf("external data %q: %s is not a folder", loc, sub)
		}
		if i == len(parts)-1 && !st.Mode().IsRegular() {
			return nil, invalidf("external data %q is not a regular file (%v)", loc, st.Mode().Type())
		}
	}
	f, err := d.ext.root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, invalidf("external data %q: %v", loc, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, invalidf("external data %q: %v", loc, err)
	}
	if !st.Mode().IsRegular() {
		return nil, invalidf("external data %q is not a regular file", loc)
	}
	size := st.Size()
	if off > size {
		return nil, invalidf("external data %q: offset %d is past the end of the file (%d bytes)", loc, off, size)
	}
	if length < 0 {
		length = size - off
	}
	if length != int64(want) {
		return nil, invalidf("external data %q: length %d, but the tensor needs %d bytes", loc, length, want)
	}
	if off+length > size {
		return nil, invalidf("external data %q: bytes %d..%d are past the end of the file (%d bytes)", loc, off, off+length, size)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && length == 0) {
		return nil, invalidf("external data %q: reading: %v", loc, err)
	}
	return buf, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
