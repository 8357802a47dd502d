package cpu_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/accel-go/accel/common/conformance"
	"github.com/accel-go/accel/cpu"
)

// TestNodeSuite runs every ONNX node-test case on the CPU engine. A case
// that fails must be listed in testdata/known_failures.tsv with a reason;
// a listed case that passes must be removed from the list. ACCEL_CASES
// (a regexp on case names) narrows the run.
func TestNodeSuite(t *testing.T) {
	dir, ok := conformance.Dir()
	if !ok {
		t.Skipf("ONNX node tests not found (set ACCEL_ONNX_TESTS; looked at %q)", dir)
	}
	cases, err := conformance.ListCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	known, err := conformance.LoadKnown("testdata/known_failures.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var filter *regexp.Regexp
	if f := os.Getenv("ACCEL_CASES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	var sum conformance.Summary
	for _, c := range cases {
		if filter != nil && !filter.MatchString(c.Name) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			r := conformance.RunCase(cpu.Backend{}, c, conformance.Options{Timeout: time.Minute})
			sum.Add(r)
			reason, isKnown := known[c.Name]
			switch {
			case r.Status == conformance.Passed && isKnown:
				t.Errorf("passes now; remove it from testdata/known_failures.tsv (listed as: %s)", reason)
			case r.Status != conformance.Passed && !isKnown:
				t.Errorf("%s: %s", r.Status, r.Detail)
			case r.Status != conformance.Passed:
				t.Logf("known failure (%s): %s", reason, r.Detail)
			}
		})
	}
	t.Log(sum.Line("cpu"))
}
