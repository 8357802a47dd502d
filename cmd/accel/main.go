// Command accel runs, inspects, benchmarks and checks ONNX models on the
// backends compiled into it.
//
//	accel run --model M [--backend B] [--input NAME=FILE ...] [--fill zeros|random] ...
//	accel inspect --model M [--backend B]
//	accel devices
//	accel conformance --backend B [DIR]
//	accel bench --model M --backend B [--vs B2] ...
//	accel compare --model M --backends cpu,ort ...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	_ "github.com/accel-go/accel/cambricon"
	_ "github.com/accel-go/accel/cpu"
	_ "github.com/accel-go/accel/cuda"
	_ "github.com/accel-go/accel/opencl"
	_ "github.com/accel-go/accel/ort"
	_ "github.com/accel-go/accel/trt"
	_ "github.com/accel-go/accel/vulkan"
)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	commands = []command{
		{"run", "run a model on inputs from files or filled in", cmdRun},
		{"inspect", "describe a model: inputs, outputs, ops, parameters, FLOPs, placement", cmdInspect},
		{"devices", "list every backend: compiled in or not, library, devices", cmdDevices},
		{"conformance", "run the ONNX node tests on a backend", cmdConformance},
		{"bench", "measure latency and throughput, optionally against another backend", cmdBench},
		{"compare", "run the same inputs on several backends and compare outputs", cmdCompare},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0 on
// success, 1 when the command failed, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "accel: internal error: %v\n", r)
			status = 1
		}
	}()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "accel %s: %s\n", c.name, oneLine(err.Error()))
			return 2
		}
		fmt.Fprintf(stderr, "accel %s: %s\n", c.name, oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(stderr, "accel: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: accel <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'accel <command> -h' for a command's flags")
}

// oneLine keeps an error to one line: internal-error stack traces are cut.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// newFlags makes a FlagSet whose parse errors are usage errors.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("accel "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
