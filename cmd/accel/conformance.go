package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/conformance"
)

func cmdConformance(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("conformance", stderr)
	backend := fs.String("backend", "cpu", "backend to test")
	filter := fs.String("run", "", "only cases whose name matches this regexp")
	verbose := fs.Bool("v", false, "print a row for every case, not only failures")
	deviceOnly := fs.Bool("device-only", false, "refuse CPU fallback (device backends)")
	timeout := fs.Duration("timeout", 2*time.Minute, "deadline per case")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := fs.Arg(0)
	if dir == "" {
		d, ok := conformance.Dir()
		if !ok {
			return usagef("node tests not found: pass DIR or set ACCEL_ONNX_TESTS")
		}
		dir = d
	}
	var re *regexp.Regexp
	if *filter != "" {
		var err error
		if re, err = regexp.Compile(*filter); err != nil {
			return usagef("--run: %v", err)
		}
	}
	b, err := common.Lookup(*backend)
	if err != nil {
		return err
	}
	if _, err := b.Devices(); err != nil {
		return err
	}
	cases, err := conformance.ListCases(dir)
	if err != nil {
		return err
	}
	var sum conformance.Summary
	opts := conformance.Options{Compile: common.Options{DeviceOnly: *deviceOnly}, Timeout: *timeout}
	for _, c := range cases {
		if re != nil && !re.MatchString(c.Name) {
			continue
		}
		r := conformance.RunCase(b, c, opts)
		sum.Add(r)
		if r.Status != conformance.Passed || *verbose {
			detail := r.Detail
			if len(detail) > 300 {
				detail = detail[:300] + "..."
			}
			fmt.Fprintf(stdout, "%-11s %-60s %s\n", r.Status, c.Name, strings.Join(strings.Fields(detail), " "))
		}
	}
	fmt.Fprintln(stdout, sum.Line(*backend))
	return nil
}
