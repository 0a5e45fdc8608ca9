package quota

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	quota "k8s.io/apiserver/pkg/quota/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"skiff/internal/resources"
)

// podNames are the quota resources a pod consumes.
var podNames = []corev1.ResourceName{
	"pods", "count/pods",
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
}

// mustRequest are the names that, once quota'd, every container has to state: Kubernetes
// kept this rule from before QoS classes existed, and users rely on its message.
var mustRequest = sets.New[corev1.ResourceName](
	corev1.ResourceCPU, corev1.ResourceMemory,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
)

func podEvaluator(list Lister) *evaluator {
	return &evaluator{
		gr:          corev1.Resource("pods"),
		list:        list,
		names:       podNames,
		more:        extendedPodName,
		usage:       podUsage,
		scope:       podMatchesScope,
		constraints: podConstraints,
		updates:     podUpdates,
	}
}

// podUpdates charges an in-place resize (a resize up takes more, charged when it is
// asked for) and an update that gives a pod an active deadline, which moves it under
// Terminating quotas. Kubernetes leaves the latter to its quota controller, which
// leaves a window in which a Terminating quota admits pods beyond its limit; charging
// it here closes the window, and the controller gives back what NotTerminating quotas
// no longer hold.
func podUpdates(sub string, old, cur runtime.Object) bool {
	switch sub {
	case "resize":
		return true
	case "":
		o, ok1 := old.(*corev1.Pod)
		n, ok2 := cur.(*corev1.Pod)
		return ok1 && ok2 && terminating(o) != terminating(n)
	}
	return false
}

// extendedPodName matches hugepages and extended resources, which quota names by request.
func extendedPodName(n corev1.ResourceName) bool {
	s := string(n)
	return strings.HasPrefix(s, "hugepages-") || strings.HasPrefix(s, "requests.hugepages-") ||
		(strings.HasPrefix(s, "requests.") && strings.Contains(s, "/"))
}

// podUsage counts every stored pod under count/pods, but only live pods under pods and
// the compute resources: a finished pod no longer holds what it asked for. A pod
// resized in place is charged the larger of its spec and what the kubelet allocated
// or applied (its status), as Kubernetes does: a resize up counts when it is asked
// for, a resize down only once the kubelet has made it.
func podUsage(obj runtime.Object) (corev1.ResourceList, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("expected a Pod, got %T", obj)
	}
	out := corev1.ResourceList{"count/pods": *resource.NewQuantity(1, resource.DecimalSI)}
	if !Live(pod, time.Now()) {
		return out, nil
	}
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: true}
	requests := resourcehelper.PodRequests(pod, opts)
	limits := resourcehelper.PodLimits(pod, opts)
	return quota.Add(out, computeUsage(requests, limits)), nil
}

// PodChargeChanged reports a pod update that changes what the pod is charged (an
// applied in-place resize, say) or which quotas it falls under (an active deadline
// set), for the quota controller to recount.
func PodChargeChanged(old, cur *corev1.Pod) bool {
	a, errA := podUsage(old)
	b, errB := podUsage(cur)
	return errA != nil || errB != nil || !quota.Equals(a, b) || terminating(old) != terminating(cur)
}

// Live reports whether a pod still holds its resources: not finished, and not past
// the end of its graceful deletion.
func Live(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		end := pod.DeletionTimestamp.Add(time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second)
		return now.Before(end)
	}
	return true
}

// computeUsage maps requests and limits to quota names: a bare cpu or memory means
// its request.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{"pods": *resource.NewQuantity(1, resource.DecimalSI)}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q.DeepCopy()
			out["requests."+r] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			out["limits."+r] = q.DeepCopy()
		}
	}
	for r, q := range requests {
		if strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix) || strings.Contains(string(r), "/") {
			out["requests."+r] = q.DeepCopy()
			if strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix) {
				out[r] = q.DeepCopy()
			}
		}
	}
	return out
}

// podConstraints refuses a pod some container of which does not state a quota'd
// cpu or memory request or limit, naming what is missing for which containers.
func podConstraints(required []corev1.ResourceName, obj runtime.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return fmt.Errorf("expected a Pod, got %T", obj)
	}
	want := sets.New(required...).Intersection(mustRequest)
	if want.Len() == 0 {
		return nil
	}
	missing := map[corev1.ResourceName][]string{}
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		has := sets.KeySet(computeUsage(c.Resources.Requests, c.Resources.Limits))
		for _, r := range sets.List(want.Difference(has)) {
			missing[r] = append(missing[r], c.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, r := range sets.List(sets.KeySet(missing)) {
		names := missing[r]
		slices.Sort(names)
		parts = append(parts, fmt.Sprintf("%s for: %s", r, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
}

// podMatchesScope implements the pod scopes: Terminating (an active deadline),
// BestEffort (QoS class), CrossNamespacePodAffinity, whose selectors validation
// allows only with Exists, and PriorityClass, selected by name.
func podMatchesScope(sel corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false, fmt.Errorf("expected a Pod, got %T", obj)
	}
	switch sel.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return resources.QOSClass(pod) == corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return resources.QOSClass(pod) != corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod), nil
	case corev1.ResourceQuotaScopePriorityClass:
		if pod.Spec.PriorityClassName == "" {
			return namedScopeMatches(sel)
		}
		return namedScopeMatches(sel, pod.Spec.PriorityClassName)
	}
	return false, nil
}

func terminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}
