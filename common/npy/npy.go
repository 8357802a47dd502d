// Package npy reads and writes NumPy .npy files (format versions 1.0-3.0,
// little- or big-endian, C order) as common.Tensor values.
package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/accel-go/accel/common"
)

var magic = []byte("\x93NUMPY")

var descrs = map[common.DType]string{
	common.Float32: "f4", common.Float64: "f8", common.Float16: "f2",
	common.Int8: "i1", common.Int16: "i2", common.Int32: "i4", common.Int64: "i8",
	common.Uint8: "u1", common.Uint16: "u2", common.Uint32: "u4", common.Uint64: "u8",
	common.Bool: "b1",
}

// ReadFile reads a .npy file, refusing tensors past lim.
func ReadFile(path string, lim common.Limits) (*common.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Read(f, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Read decodes a .npy stream.
func Read(r io.Reader, lim common.Limits) (*common.Tensor, error) {
	head := make([]byte, 10)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("%w: not a .npy file (short header)", common.ErrInvalidModel)
	}
	if !bytes.Equal(head[:6], magic) {
		return nil, fmt.Errorf("%w: not a .npy file (bad magic)", common.ErrInvalidModel)
	}
	var hlen int
	switch head[6] {
	case 1:
		hlen = int(binary.LittleEndian.Uint16(head[8:10]))
	case 2, 3:
		ext := make([]byte, 2)
		if _, err := io.ReadFull(r, ext); err != nil {
			return nil, fmt.Errorf("%w: truncated .npy header", common.ErrInvalidModel)
		}
		hlen = int(binary.LittleEndian.Uint32(append(head[8:10:10], ext...)))
	default:
		return nil, fmt.Errorf("%w: .npy version %d.%d not supported", common.ErrUnsupported, head[6], head[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("%w: .npy header of %d bytes", common.ErrInvalidModel, hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: truncated .npy header", common.ErrInvalidModel)
	}
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	if fortran {
		return nil, fmt.Errorf("%w: Fortran-order .npy arrays are not supported", common.ErrUnsupported)
	}
	if len(descr) < 3 {
		return nil, fmt.Errorf("%w: .npy dtype %q", common.ErrUnsupported, descr)
	}
	order := binary.ByteOrder(binary.LittleEndian)
	switch descr[0] {
	case '>':
		order = binary.BigEndian
	case '<', '|', '=':
	default:
		return nil, fmt.Errorf("%w: .npy dtype %q", common.ErrUnsupported, descr)
	}
	dt := common.Undefined
	for d, s := range descrs {
		if s == descr[1:] {
			dt = d
		}
	}
	if descr[1:] == "?" {
		dt = common.Bool
	}
	if dt == common.Undefined {
		return nil, fmt.Errorf("%w: .npy dtype %q", common.ErrUnsupported, descr)
	}
	n, err := lim.CheckTensor(dt, shape)
	if err != nil {
		return nil, err
	}
	size := dt.Size()
	raw := make([]byte, 0, min(n*size, 1<<20))
	buf := bytes.NewBuffer(raw)
	if m, err := io.CopyN(buf, r, int64(n*size)); err != nil {
		return nil, fmt.Errorf("%w: .npy data has %d bytes, want %d", common.ErrInvalidModel, m, n*size)
	}
	t := common.Zeros(dt, shape)
	data := buf.Bytes()
	switch s := t.Raw().(type) {
	case []float32:
		for i := range s {
			s[i] = math.Float32frombits(order.Uint32(data[4*i:]))
		}
	case []float64:
		for i := range s {
			s[i] = math.Float64frombits(order.Uint64(data[8*i:]))
		}
	case []common.F16:
		for i := range s {
			s[i] = common.F16(order.Uint16(data[2*i:]))
		}
	case []int8:
		for i := range s {
			s[i] = int8(data[i])
		}
	case []uint8:
		copy(s, data)
	case []bool:
		for i := range s {
			s[i] = data[i] != 0
		}
	case []int16:
		for i := range s {
			s[i] = int16(order.Uint16(data[2*i:]))
		}
	case []uint16:
		for i := range s {
			s[i] = order.Uint16(data[2*i:])
		}
	case []int32:
		for i := range s {
			s[i] = int32(order.Uint32(data[4*i:]))
		}
	case []uint32:
		for i := range s {
			s[i] = order.Uint32(data[4*i:])
		}
	case []int64:
		for i := range s {
			s[i] = int64(order.Uint64(data[8*i:]))
		}
	case []uint64:
		for i := range s {
			s[i] = order.Uint64(data[8*i:])
		}
	}
	return t, nil
}

// parseHeader reads the Python dict literal of a .npy header.
func parseHeader(h string) (descr string, fortran bool, shape common.Shape, err error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: .npy header %s: %q", common.ErrInvalidModel, what, strings.TrimSpace(h))
	}
	get := func(key string) (string, bool) {
		i := strings.Index(h, "'"+key+"'")
		if i < 0 {
			return "", false
		}
		rest := strings.TrimLeft(h[i+len(key)+2:], " ")
		if !strings.HasPrefix(rest, ":") {
			return "", false
		}
		return strings.TrimLeft(rest[1:], " "), true
	}
	d, ok := get("descr")
	if !ok || len(d) < 2 || d[0] != '\'' {
		return "", false, nil, bad("has no descr")
	}
	end := strings.IndexByte(d[1:], '\'')
	if end < 0 {
		return "", false, nil, bad("has a bad descr")
	}
	descr = d[1 : 1+end]
	fo, ok := get("fortran_order")
	if !ok {
		return "", false, nil, bad("has no fortran_order")
	}
	fortran = strings.HasPrefix(fo, "True")
	s, ok := get("shape")
	if !ok || !strings.HasPrefix(s, "(") {
		return "", false, nil, bad("has no shape")
	}
	close := strings.IndexByte(s, ')')
	if close < 0 {
		return "", false, nil, bad("has a bad shape")
	}
	shape = common.Shape{}
	for _, p := range strings.Split(s[1:close], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(p, "L"), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt32*4 {
			return "", false, nil, bad("has a bad dim " + p)
		}
		shape = append(shape, int(v))
	}
	return descr, fortran, shape, nil
}

// WriteFile writes t as a version 1.0 .npy file.
func WriteFile(path string, t *common.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, t); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write encodes t as .npy. bfloat16 and the 8-bit float types are written
// as float32 (NumPy has no such dtypes); strings are not supported.
func Write(w io.Writer, t *common.Tensor) error {
	switch t.DType() {
	case common.BFloat16, common.Float8E4M3FN, common.Float8E4M3FNUZ, common.Float8E5M2,
		common.Float8E5M2FNUZ, common.Float8E8M0, common.Float4E2M1:
		vals := make([]float32, t.Len())
		for i := range vals {
			vals[i] = float32(t.Float(i))
		}
		t = common.NewTensor(t.Shape(), vals)
	case common.Int4, common.Int2:
		vals := make([]int8, t.Len())
		for i := range vals {
			vals[i] = int8(t.Int(i))
		}
		t = common.NewTensor(t.Shape(), vals)
	case common.Uint4, common.Uint2:
		vals := make([]uint8, t.Len())
		for i := range vals {
			vals[i] = uint8(t.Int(i))
		}
		t = common.NewTensor(t.Shape(), vals)
	}
	descr, ok := descrs[t.DType()]
	if !ok {
		return fmt.Errorf("%w: cannot write a %v tensor as .npy", common.ErrUnsupported, t.DType())
	}
	order := "<"
	if t.DType().Size() == 1 {
		order = "|"
	}
	if t.DType() == common.Bool {
		descr = "b1"
	}
	dims := make([]string, len(t.Shape()))
	for i, d := range t.Shape() {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	hdr := fmt.Sprintf("{'descr': '%s%s', 'fortran_order': False, 'shape': (%s), }", order, descr, shape)
	pad := 64 - (10+len(hdr)+1)%64
	hdr += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.Write(magic)
	buf.Write([]byte{1, 0})
	binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	buf.WriteString(hdr)
	if err := binary.Write(&buf, binary.LittleEndian, t.Raw()); err != nil {
		switch s := t.Raw().(type) {
		case []common.F16:
			for _, v := range s {
				binary.Write(&buf, binary.LittleEndian, uint16(v))
			}
		default:
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}
