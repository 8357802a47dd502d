// Package graph holds the model IR (aliases of the types in package common,
// so that common.Backend can name them without an import cycle), its
// validation and topological order, shape inference and the rewrite passes
// backends run before compiling.
package graph

import (
	"fmt"

	"github.com/accel-go/accel/common"
)

// IR types, shared with package common.
type (
	Model     = common.Model
	Graph     = common.Graph
	Node      = common.Node
	Attribute = common.Attribute
	ValueInfo = common.ValueInfo
	TypeInfo  = common.TypeInfo
)

// FreeNames returns the names a graph reads that it does not define itself
// (from an enclosing scope), in first-use order.
func FreeNames(g *Graph) []string {
	defined := map[string]bool{}
	for _, in := range g.Inputs {
		defined[in.Name] = true
	}
	for name := range g.Initializers {
		defined[name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				defined[o] = true
			}
		}
	}
	var free []string
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !defined[name] && !seen[name] {
			seen[name] = true
			free = append(free, name)
		}
	}
	for _, n := range g.Nodes {
		for _, name := range NodeReads(n) {
			add(name)
		}
	}
	for _, o := range g.Outputs {
		add(o.Name)
	}
	return free
}

// NodeReads returns every value name a node reads: its inputs and the free
// names of its subgraphs.
func NodeReads(n *Node) []string {
	reads := make([]string, 0, len(n.Inputs))
	for _, in := range n.Inputs {
		if in != "" {
			reads = append(reads, in)
		}
	}
	for _, sg := range n.Subgraphs() {
		reads = append(reads, FreeNames(sg)...)
	}
	return reads
}

// Order returns g's nodes in a topological order (stable: file order where
// dependencies allow). outer lists names defined by enclosing scopes. It
// reports cycles, self-loops, inputs nothing defines, and values defined
// twice, wrapping common.ErrInvalidModel.
func Order(g *Graph, outer map[string]bool) ([]*Node, error) {
	producer := make(map[string]int, len(g.Nodes))
	defined := func(name string) bool {
		if _, ok := g.Initializers[name]; ok {
			return true
		}
		return false
	}
	inputs := make(map[string]bool, len(g.Inputs))
	for _, in := range g.Inputs {
		if in.Name == "" {
			return nil, fmt.Errorf("%w: graph %q has an input with no name", common.ErrInvalidModel, g.Name)
		}
		if inputs[in.Name] {
			return nil, fmt.Errorf("%w: graph %q declares input %q twice", common.ErrInvalidModel, g.Name, in.Name)
		}
		inputs[in.Name] = true
	}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, fmt.Errorf("%w: value %q is produced twice (nodes %q and %q)", common.ErrInvalidModel, o, g.Nodes[j].Label(), n.Label())
			}
			if inputs[o] || defined(o) {
				return nil, fmt.Errorf("%w: node %q writes %q, which is a graph input or initializer", common.ErrInvalidModel, n.Label(), o)
			}
			producer[o] = i
		}
	}
	// Kahn's algorithm over node indices.
	indeg := make([]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[int]bool{}
		for _, name := range NodeReads(n) {
			if p, ok := producer[name]; ok {
				if p == i {
					return nil, fmt.Errorf("%w: node %q reads its own output %q", common.ErrInvalidModel, n.Label(), name)
				}
				if !seen[p] {
					seen[p] = true
					indeg[i]++
					users[p] = append(users[p], i)
				}
				continue
			}
			if inputs[name] || defined(name) || outer[name] {
				continue
			}
			return nil, fmt.Errorf("%w: node %q reads %q, which no node, input or initializer defines", common.ErrInvalidModel, n.Label(), name)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	// A simple queue in index order keeps file order when possible.
	ready := make([]int, 0, len(g.Nodes))
	for i := range g.Nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, g.Nodes[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		for i, d := range indeg {
			if d > 0 {
				return nil, fmt.Errorf("%w: graph %q has a cycle through node %q", common.ErrInvalidModel, g.Name, g.Nodes[i].Label())
			}
		}
	}
	for _, o := range g.Outputs {
		if _, ok := producer[o.Name]; ok || inputs[o.Name] || defined(o.Name) || outer[o.Name] {
			continue
		}
		return nil, fmt.Errorf("%w: graph output %q is never produced", common.ErrInvalidModel, o.Name)
	}
	return order, nil
}

// Scope returns the names visible inside g's nodes' subgraphs: outer plus
// everything g defines.
func Scope(g *Graph, outer map[string]bool) map[string]bool {
	s := make(map[string]bool, len(outer)+len(g.Nodes))
	for k := range outer {
		s[k] = true
	}
	for _, in := range g.Inputs {
		s[in.Name] = true
	}
	for k := range g.Initializers {
		s[k] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				s[o] = true
			}
		}
	}
	return s
}

// Validate checks a whole model: every graph and subgraph is orderable and
// reads only defined names, nesting stays within lim.SubgraphDepth.
func Validate(m *Model, lim common.Limits) error {
	if m == nil || m.Graph == nil {
		return fmt.Errorf("%w: model has no graph", common.ErrInvalidModel)
	}
	lim = lim.WithDefaults()
	if n := CountNodes(m.Graph, lim.Nodes+1); n > lim.Nodes {
		return fmt.Errorf("%w: the model has more than %d nodes", common.ErrLimit, lim.Nodes)
	}
	return validateGraph(m.Graph, nil, 0, lim)
}

// CountNodes counts the nodes of g and all its subgraphs (a subgraph
// reached twice counts twice), stopping once the count reaches stop.
func CountNodes(g *Graph, stop int64) int64 {
	var n int64
	var walk func(g *Graph)
	walk = func(g *Graph) {
		for _, nd := range g.Nodes {
			if n >= stop {
				return
			}
			n++
			for _, sg := range nd.Subgraphs() {
				walk(sg)
			}
		}
	}
	walk(g)
	return n
}

func validateGraph(g *Graph, outer map[string]bool, depth int, lim common.Limits) error {
	if depth > lim.SubgraphDepth {
		return fmt.Errorf("%w: subgraphs nested deeper than %d", common.ErrLimit, lim.SubgraphDepth)
	}
	if _, err := Order(g, outer); err != nil {
		return err
	}
	var scope map[string]bool
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			if scope == nil {
				scope = Scope(g, outer)
			}
			if err := validateGraph(sg, scope, depth+1, lim); err != nil {
				return fmt.Errorf("in a subgraph of node %q: %w", n.Label(), err)
			}
		}
	}
	return nil
}
