package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// FitError says why a pod fits no node, in the form `kubectl describe pod` users
// know: "0/5 nodes are available: 2 Insufficient memory, 1 node(s) had untolerated
// taint {gpu: true}. preemption: 0/5 nodes are available: 3 No preemption victims
// found for incoming pod."
type FitError struct {
	NumAllNodes int
	// PreFilterMsg is set when a PreFilter rejected the pod before any node was
	// looked at (an unbound claim, say); it replaces the per-node counts.
	PreFilterMsg string
	// Reasons counts, per reason, the nodes rejected for it.
	Reasons map[string]int
	// PostFilterMsg is what preemption found, starting with "preemption:".
	PostFilterMsg string
}

// Error implements error.
func (e *FitError) Error() string {
	var b strings.Builder
	if e.NumAllNodes == 0 && e.PreFilterMsg == "" {
		b.WriteString("no nodes available to schedule pods")
	} else {
		b.WriteString(availabilityMessage(e.NumAllNodes, e.Reasons, e.PreFilterMsg))
	}
	if e.PostFilterMsg != "" {
		b.WriteString(" ")
		b.WriteString(e.PostFilterMsg)
	}
	return b.String()
}

// availabilityMessage renders "0/N nodes are available: <counts>." with the most
// common reason first, so the likeliest fix is what people read first.
func availabilityMessage(n int, reasons map[string]int, override string) string {
	body := override
	if body == "" {
		body = histogram(reasons)
	}
	return fmt.Sprintf("0/%d nodes are available: %s.", n, body)
}

func histogram(reasons map[string]int) string {
	type rc struct {
		reason string
		count  int
	}
	list := make([]rc, 0, len(reasons))
	for r, c := range reasons {
		list = append(list, rc{r, c})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].count != list[j].count {
			return list[i].count > list[j].count
		}
		return list[i].reason < list[j].reason
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%d %s", x.count, x.reason)
	}
	return strings.Join(parts, ", ")
}
