package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
)

func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", stderr)
	model := fs.String("model", "", "the .onnx model file")
	list := fs.String("backends", "cpu,ort", "comma-separated backends; the first is the reference")
	rtol := fs.Float64("rtol", 1e-4, "largest relative L2 error allowed per output")
	atol := fs.Float64("atol", 1e-5, "largest absolute error allowed where the reference is near zero")
	timeout := fs.Duration("timeout", time.Minute, "deadline per run")
	var in inputFlags
	in.register(fs, "random")
	if err := parse(fs, args); err != nil {
		return err
	}
	names := strings.Split(*list, ",")
	if len(names) < 2 {
		return usagef("--backends needs at least two names, got %q", *list)
	}
	opts := in.options()
	m, err := loadModel(*model, opts.Limits)
	if err != nil {
		return err
	}
	results := make([]map[string]*common.Tensor, len(names))
	var infos []common.TensorInfo
	var inputs map[string]*common.Tensor
	for i, name := range names {
		name = strings.TrimSpace(name)
		names[i] = name
		eng, err := common.Open(name, m, opts)
		if err != nil {
			return err
		}
		if inputs == nil {
			infos = eng.Outputs()
			if inputs, err = in.buildInputs(eng.Inputs(), opts.Limits); err != nil {
				eng.Close()
				return err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		out, err := eng.Run(ctx, inputs)
		cancel()
		eng.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results[i] = out
	}
	failed := 0
	fmt.Fprintf(stdout, "%-24s %-8s %14s %14s %6s %6s  %s\n", "output", "backend", "max |diff|", "rel L2", "NaN", "Inf", "result")
	for _, o := range infos {
		ref := results[0][o.Name]
		if ref == nil {
			continue
		}
		for i := 1; i < len(names); i++ {
			got := results[i][o.Name]
			verdict, maxAbs, rel, nans, infs := judge(got, ref, *rtol, *atol)
			if verdict != "ok" {
				failed++
			}
			fmt.Fprintf(stdout, "%-24s %-8s %14.6g %14.6g %6d %6d  %s\n", o.Name, names[i], maxAbs, rel, nans, infs, verdict)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d output comparison(s) failed against %s", failed, names[0])
	}
	fmt.Fprintf(stdout, "all outputs match %s\n", names[0])
	return nil
}

// judge compares one output with the reference.
func judge(got, ref *common.Tensor, rtol, atol float64) (verdict string, maxAbs, rel float64, nans, infs int) {
	if got == nil {
		return "FAIL: missing", 0, 0, 0, 0
	}
	if got.DType() != ref.DType() || !got.Shape().Equal(ref.Shape()) {
		return fmt.Sprintf("FAIL: %v%v, want %v%v", got.DType(), got.Shape(), ref.DType(), ref.Shape()), 0, 0, 0, 0
	}
	if ref.DType() == common.String {
		for i := 0; i < ref.Len(); i++ {
			if got.At(i) != ref.At(i) {
				return "FAIL: strings differ", 0, 0, 0, 0
			}
		}
		return "ok", 0, 0, 0, 0
	}
	refNaN := 0
	for i := 0; i < ref.Len(); i++ {
		g, r := got.Float(i), ref.Float(i)
		if math.IsNaN(g) {
			nans++
		}
		if math.IsInf(g, 0) {
			infs++
		}
		if math.IsNaN(r) {
			refNaN++
			continue
		}
		if d := math.Abs(g - r); d > maxAbs || math.IsNaN(d) {
			maxAbs = d
		}
	}
	rel, err := conformance.RelL2(got, ref)
	if err != nil {
		return "FAIL: " + err.Error(), maxAbs, rel, nans, infs
	}
	switch {
	case nans != refNaN:
		return fmt.Sprintf("FAIL: %d NaN, reference has %d", nans, refNaN), maxAbs, rel, nans, infs
	case math.IsNaN(maxAbs) || (rel > rtol && maxAbs > atol):
		return "FAIL", maxAbs, rel, nans, infs
	}
	return "ok", maxAbs, rel, nans, infs
}
