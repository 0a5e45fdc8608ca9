package plugins

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// System default spread constraints, as Kubernetes applies them to a pod that has
// none of its own: replicas of one workload spread over hosts (maxSkew 3) and
// zones (maxSkew 5), as a preference only. They score; they never filter.
const (
	defaultHostnameSkew = 3
	defaultZoneSkew     = 5
)

// SelectorFunc returns the selector the default constraints count pods with; an
// empty selector means the pod belongs to no workload and is not spread.
type SelectorFunc func(pod *v1.Pod) labels.Selector

// defaultConstraints are the system defaults over sel.
func defaultConstraints(sel labels.Selector) []constraint {
	return []constraint{
		{maxSkew: defaultHostnameSkew, minDomains: 1, key: v1.LabelHostname, selector: fw.NewLabelMatcher(sel), honorAffinity: true},
		{maxSkew: defaultZoneSkew, minDomains: 1, key: v1.LabelTopologyZone, selector: fw.NewLabelMatcher(sel), honorAffinity: true},
	}
}

// WorkloadSelectors is where the default selector comes from: the selectors of the
// Services that select the pod and of the ReplicaSet, ReplicationController or
// StatefulSet that controls it. Nil listers are skipped.
type WorkloadSelectors struct {
	Services     corelisters.ServiceLister
	RCs          corelisters.ReplicationControllerLister
	ReplicaSets  appslisters.ReplicaSetLister
	StatefulSets appslisters.StatefulSetLister
}

// Selector merges those selectors into one, so a pod counts others of the same
// workload (and Service) as its peers.
func (w WorkloadSelectors) Selector(pod *v1.Pod) labels.Selector {
	set := labels.Set{}
	var reqs []labels.Requirement
	if w.Services != nil {
		svcs, _ := w.Services.Services(pod.Namespace).List(labels.Everything())
		for _, s := range svcs {
			if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				for k, v := range s.Spec.Selector {
					set[k] = v
				}
			}
		}
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		switch {
		case ref.Kind == "ReplicationController" && w.RCs != nil:
			if rc, err := w.RCs.ReplicationControllers(pod.Namespace).Get(ref.Name); err == nil {
				for k, v := range rc.Spec.Selector {
					set[k] = v
				}
			}
		case ref.Kind == "ReplicaSet" && w.ReplicaSets != nil:
			if rs, err := w.ReplicaSets.ReplicaSets(pod.Namespace).Get(ref.Name); err == nil {
				reqs = append(reqs, requirementsOf(rs.Spec.Selector)...)
			}
		case ref.Kind == "StatefulSet" && w.StatefulSets != nil:
			if ss, err := w.StatefulSets.StatefulSets(pod.Namespace).Get(ref.Name); err == nil {
				reqs = append(reqs, requirementsOf(ss.Spec.Selector)...)
			}
		}
	}
	sel := labels.SelectorFromSet(set)
	return sel.Add(reqs...)
}

func requirementsOf(ls *metav1.LabelSelector) []labels.Requirement {
	if ls == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil
	}
	reqs, _ := sel.Requirements()
	return reqs
}
