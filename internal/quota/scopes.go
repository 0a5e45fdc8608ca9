package quota

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

var scopeOperators = map[corev1.ScopeSelectorOperator]selection.Operator{
	corev1.ScopeSelectorOpIn:           selection.In,
	corev1.ScopeSelectorOpNotIn:        selection.NotIn,
	corev1.ScopeSelectorOpExists:       selection.Exists,
	corev1.ScopeSelectorOpDoesNotExist: selection.DoesNotExist,
}

// namedScopeMatches applies a selector over a scope whose objects name classes
// (PriorityClass, VolumeAttributesClass) as Kubernetes does: as a label selector on
// a label named after the scope, tried once for each name the object has; an
// object that names none is an object without the label (so NotIn and
// DoesNotExist take it, In and Exists do not).
func namedScopeMatches(sel corev1.ScopedResourceSelectorRequirement, names ...string) (bool, error) {
	op, ok := scopeOperators[sel.Operator]
	if !ok {
		return false, fmt.Errorf("%q is not a valid scope selector operator", sel.Operator)
	}
	req, err := labels.NewRequirement(string(sel.ScopeName), op, sel.Values)
	if err != nil {
		return false, fmt.Errorf("scope selector on %s: %w", sel.ScopeName, err)
	}
	if len(names) == 0 {
		return req.Matches(labels.Set{}), nil
	}
	for _, n := range names {
		if req.Matches(labels.Set{string(sel.ScopeName): n}) {
			return true, nil
		}
	}
	return false, nil
}
