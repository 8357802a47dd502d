package cpu

import (
	"context"

	"github.com/accel-go/accel/common"
	"github.com/accel-go/accel/common/graph"
)

// FoldEvaluator returns a graph.Evaluator that runs one node on the CPU
// kernels, for constant folding. Nodes with subgraphs are not folded.
func FoldEvaluator(lim common.Limits) graph.Evaluator {
	lim = lim.WithDefaults()
	return func(n *common.Node, in []*common.Tensor) ([]*common.Tensor, error) {
		k, ok := kernels[n.OpType]
		if !ok || k.tensor == nil {
			return nil, &common.UnsupportedError{Op: n.OpType, Domain: n.Domain, Opset: n.Opset, Backend: Name}
		}
		e := &Engine{limits: lim, pool: newPool(1)}
		c := &Ctx{ctx: context.Background(), eng: e, run: &runState{}}
		st := &step{node: n, k: k}
		sc := &scope{vals: map[string]common.Value{}}
		for i, name := range n.Inputs {
			if name != "" && i < len(in) && in[i] != nil {
				sc.vals[name] = in[i]
			}
		}
		_, out, err := e.runNode(c, st, sc)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}
