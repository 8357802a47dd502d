package main

import (
	"fmt"
	"io"

	"github.com/accel-go/accel/common"
)

func cmdDevices(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("devices", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, name := range common.Backends() {
		b, err := common.Lookup(name)
		if err != nil {
			return err
		}
		devs, err := b.Devices()
		if err != nil {
			fmt.Fprintf(stdout, "%-10s %s\n", name, oneLine(err.Error()))
			continue
		}
		fmt.Fprintf(stdout, "%-10s available, %d device(s)\n", name, len(devs))
		for _, d := range devs {
			line := fmt.Sprintf("  [%d] %s", d.Index, d.Name)
			if d.Vendor != "" {
				line += " (" + d.Vendor + ")"
			}
			if d.Memory > 0 {
				line += ", " + humanBytes(d.Memory)
			}
			if d.Library != "" {
				line += ", library " + d.Library
			}
			if d.Version != "" {
				line += ", version " + d.Version
			}
			if d.Extra != "" {
				line += ", " + d.Extra
			}
			fmt.Fprintln(stdout, line)
		}
	}
	return nil
}
