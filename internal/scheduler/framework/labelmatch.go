package framework

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// LabelMatcher is a label selector prepared for the loops that test it against
// every pod in the cluster (affinity and spread PreFilters). Selectors made only
// of equalities, which is what matchLabels produces, are matched with one map
// lookup per label instead of the generic requirement walk; others fall back to
// the selector itself.
type LabelMatcher struct {
	sel   labels.Selector
	equal [][2]string // key, value
	fast  bool
}

// NewLabelMatcher prepares sel.
func NewLabelMatcher(sel labels.Selector) LabelMatcher {
	m := LabelMatcher{sel: sel}
	reqs, selectable := sel.Requirements()
	if !selectable {
		return m
	}
	for _, r := range reqs {
		vals := r.ValuesUnsorted()
		switch op := r.Operator(); {
		case (op == selection.Equals || op == selection.DoubleEquals || op == selection.In) && len(vals) == 1:
			m.equal = append(m.equal, [2]string{r.Key(), vals[0]})
		default:
			return LabelMatcher{sel: sel}
		}
	}
	m.fast = true
	return m
}

// Matches reports whether the labels l satisfy the selector.
func (m *LabelMatcher) Matches(l map[string]string) bool {
	if !m.fast {
		return m.sel.Matches(labels.Set(l))
	}
	for _, kv := range m.equal {
		if v, ok := l[kv[0]]; !ok || v != kv[1] {
			return false
		}
	}
	return true
}

// Indexable reports whether PodIndex.MatchingPods can answer m: it is made of
// equalities only.
func (m *LabelMatcher) Indexable() bool { return m.fast }
