package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
)

func cmdInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	model := fs.String("model", "", "the .onnx model file")
	backend := fs.String("backend", "", "also show where each node runs on this backend")
	var dims multiFlag
	fs.Var(&dims, "dim", "NAME=N: a symbolic dim's size, for the FLOP estimate (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := loadModel(*model, common.Limits{})
	if err != nil {
		return err
	}
	g := m.Graph
	fmt.Fprintf(stdout, "model:     %s\n", *model)
	fmt.Fprintf(stdout, "ir:        %d\n", m.IRVersion)
	var ops []string
	for _, d := range sortedKeys(m.Opsets) {
		name := d
		if name == "" {
			name = "ai.onnx"
		}
		ops = append(ops, fmt.Sprintf("%s %d", name, m.Opsets[d]))
	}
	fmt.Fprintf(stdout, "opsets:    %s\n", strings.Join(ops, ", "))
	if m.ProducerName != "" {
		fmt.Fprintf(stdout, "producer:  %s %s\n", m.ProducerName, m.ProducerVersion)
	}
	fmt.Fprintln(stdout, "inputs:")
	for _, in := range g.Inputs {
		if _, isInit := g.Initializers[in.Name]; isInit {
			continue
		}
		fmt.Fprintf(stdout, "  %s: %v\n", in.Name, in.Type)
	}
	fmt.Fprintln(stdout, "outputs:")
	for _, o := range g.Outputs {
		fmt.Fprintf(stdout, "  %s: %v\n", o.Name, o.Type)
	}
	params, pbytes := countParams(g)
	fmt.Fprintf(stdout, "parameters: %d (%s)\n", params, humanBytes(pbytes))
	hist := map[string]int{}
	total := 0
	walkNodes(g, func(n *common.Node) { hist[n.OpType]++; total++ })
	fmt.Fprintf(stdout, "nodes:     %d\n", total)
	type kv struct {
		op string
		n  int
	}
	var hs []kv
	for op, n := range hist {
		hs = append(hs, kv{op, n})
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].n != hs[j].n {
			return hs[i].n > hs[j].n
		}
		return hs[i].op < hs[j].op
	})
	for _, h := range hs {
		fmt.Fprintf(stdout, "  %-24s %d\n", h.op, h.n)
	}
	sizes := map[string]int64{}
	for _, d := range dims {
		name, val, ok := strings.Cut(d, "=")
		var n int64
		if _, err := fmt.Sscan(val, &n); !ok || err != nil || n < 0 {
			return usagef("--dim %q: want NAME=N", d)
		}
		sizes[name] = n
	}
	var assumed []string
	for _, in := range g.Inputs {
		for _, d := range in.Type.Dims {
			if _, set := sizes[d.Param]; d.Param != "" && !set {
				sizes[d.Param] = 1
				assumed = append(assumed, d.Param+"=1")
			}
		}
	}
	flops, covered := graph.EstimateFLOPs(m, sizes)
	note := ""
	if len(assumed) > 0 {
		note = ", with " + strings.Join(assumed, " ") + " (set with --dim)"
	}
	fmt.Fprintf(stdout, "flops:     %s (estimated over %d of %d nodes with known shapes%s)\n", humanCount(flops), covered, len(g.Nodes), note)
	if *backend == "" {
		return nil
	}
	eng, err := common.Open(*backend, m, common.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	p, ok := eng.(common.Placer)
	if !ok {
		fmt.Fprintf(stdout, "placement: %s does not report placement\n", *backend)
		return nil
	}
	pl := p.Placement()
	count := map[string]int{}
	for _, np := range pl {
		count[np.Device]++
	}
	var parts []string
	for _, d := range sortedKeys(count) {
		parts = append(parts, fmt.Sprintf("%s %d", d, count[d]))
	}
	fmt.Fprintf(stdout, "placement on %s: %s\n", *backend, strings.Join(parts, ", "))
	for _, np := range pl {
		line := fmt.Sprintf("  %-40s %-20s %s", np.Node, np.Op, np.Device)
		if np.Reason != "" {
			line += "  (" + np.Reason + ")"
		}
		fmt.Fprintln(stdout, line)
	}
	if a, ok := eng.(common.ArenaSizer); ok {
		fmt.Fprintf(stdout, "arena:     %s\n", humanBytes(a.ArenaBytes()))
	}
	return nil
}

func walkNodes(g *common.Graph, fn func(*common.Node)) {
	for _, n := range g.Nodes {
		fn(n)
		for _, sg := range n.Subgraphs() {
			walkNodes(sg, fn)
		}
	}
}

// countParams counts initializer and Constant elements and bytes.
func countParams(g *common.Graph) (int64, int64) {
	var n, b int64
	for _, t := range g.Initializers {
		n += int64(t.Len())
		b += t.Bytes()
	}
	walkNodes(g, func(nd *common.Node) {
		if nd.OpType == "Constant" {
			if t := nd.AttrTensor("value"); t != nil {
				n += int64(t.Len())
				b += t.Bytes()
			}
		}
	})
	return n, b
}

func humanBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func humanCount(f float64) string {
	switch {
	case f >= 1e9:
		return fmt.Sprintf("%.3f GFLOP", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.3f MFLOP", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.3f kFLOP", f/1e3)
	}
	return fmt.Sprintf("%.0f FLOP", f)
}
