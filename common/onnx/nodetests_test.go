package onnx

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accel-go/accel/common"
)

// nodeTestDir finds the ONNX node tests, or "" when they are absent.
func nodeTestDir() string {
	cands := []string{os.Getenv("ACCEL_ONNX_TESTS"), "../../../shared/onnx-node-tests"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
	}
	return ""
}

func nodeTestCases(t testing.TB) (string, []string) {
	dir := nodeTestDir()
	if dir == "" {
		t.Skip("ONNX node tests not found: set ACCEL_ONNX_TESTS to their folder")
	}
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var cases []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "test_") {
			cases = append(cases, e.Name())
		}
	}
	sort.Strings(cases)
	return dir, cases
}

// TestDecodeNodeTests decodes every node-test model and its data files.
func TestDecodeNodeTests(t *testing.T) {
	dir, cases := nodeTestCases(t)
	require.NotEmpty(t, cases)
	for _, c := range cases {
		m, err := LoadModel(filepath.Join(dir, c, "model.onnx"), common.Limits{})
		if !assertNoErr(t, c, err) {
			continue
		}
		sets, _ := filepath.Glob(filepath.Join(dir, c, "test_data_set_*"))
		for _, s := range sets {
			for i, in := range m.Graph.Inputs {
				p := filepath.Join(s, "input_"+itoa(i)+".pb")
				if _, err := os.Stat(p); err != nil {
					continue
				}
				_, _, err := LoadValue(p, in.Type, common.Limits{})
				assertNoErr(t, c+"/"+filepath.Base(p), err)
			}
			for i, out := range m.Graph.Outputs {
				p := filepath.Join(s, "output_"+itoa(i)+".pb")
				if _, err := os.Stat(p); err != nil {
					continue
				}
				_, _, err := LoadValue(p, out.Type, common.Limits{})
				assertNoErr(t, c+"/"+filepath.Base(p), err)
			}
		}
		// Re-encoding and decoding again must succeed and be stable.
		b1, err := EncodeModel(m)
		if !assertNoErr(t, c+" encode", err) {
			continue
		}
		m2, err := DecodeModel(b1, common.Limits{})
		if !assertNoErr(t, c+" re-decode", err) {
			continue
		}
		b2, err := EncodeModel(m2)
		if assertNoErr(t, c+" re-encode", err) {
			require.Equal(t, b1, b2, c)
		}
	}
}

func assertNoErr(t *testing.T, what string, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
