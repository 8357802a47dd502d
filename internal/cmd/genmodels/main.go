// Command genmodels writes the generated models: the small ones into
// testdata/models (committed; `go generate ./testdata` reproduces them
// byte for byte) and, with -big, the ResNet-18- and MobileNetV2-shaped
// benchmark models into testdata/models/big (not committed).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/accel-go/accel/internal/modelgen"
)

func main() {
	out := flag.String("out", "testdata/models", "output folder")
	big := flag.Bool("big", false, "also write the large benchmark models into OUT/big")
	flag.Parse()
	for _, s := range modelgen.All() {
		dir := *out
		if s.Big {
			if !*big {
				continue
			}
			dir = filepath.Join(*out, "big")
		}
		data, err := s.Build()
		if err != nil {
			fmt.Fprintf(os.Stderr, "genmodels: %s: %v\n", s.Name, err)
			os.Exit(1)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "genmodels:", err)
			os.Exit(1)
		}
		p := filepath.Join(dir, s.Name+".onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "genmodels:", err)
			os.Exit(1)
		}
		fmt.Printf("%s (%d bytes): %s\n", p, len(data), s.Doc)
	}
}
