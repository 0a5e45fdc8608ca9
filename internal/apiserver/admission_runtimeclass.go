package apiserver

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var runtimeClassesGVR = nodev1.SchemeGroupVersion.WithResource("runtimeclasses")

// podRuntimeClass admits a new pod's runtimeClassName as the RuntimeClass admission
// plugin does: the class must exist; its fixed overhead becomes the pod's
// spec.overhead (which a pod may not set otherwise); its scheduling nodeSelector and
// tolerations are merged into the pod's, a conflicting nodeSelector refused.
func (ad *admission) podRuntimeClass(pod *corev1.Pod) error {
	forbid := func(format string, args ...any) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name, fmt.Errorf(format, args...))
	}
	var rc *nodev1.RuntimeClass
	if name := pod.Spec.RuntimeClassName; name != nil && *name != "" {
		o, ok := ad.api.endpoints[runtimeClassesGVR].store.Peek("", *name)
		if !ok {
			return forbid("pod rejected: RuntimeClass %q not found", *name)
		}
		rc = o.(*nodev1.RuntimeClass)
	}
	switch {
	case rc == nil || rc.Overhead == nil:
		if pod.Spec.Overhead != nil {
			return forbid("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
		}
	case pod.Spec.Overhead == nil:
		pod.Spec.Overhead = rc.Overhead.PodFixed.DeepCopy()
	case !apiequality.Semantic.DeepEqual(pod.Spec.Overhead, rc.Overhead.PodFixed):
		return forbid("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
	}
	if rc == nil || rc.Scheduling == nil {
		return nil
	}
	return mergeRuntimeClassScheduling(pod, rc.Scheduling, forbid)
}

// mergeRuntimeClassScheduling adds the class's nodeSelector and tolerations to the
// pod's: the pods of a class run only on the nodes that have its handler.
func mergeRuntimeClassScheduling(pod *corev1.Pod, s *nodev1.Scheduling, forbid func(string, ...any) error) error {
	for k, v := range s.NodeSelector {
		if have, ok := pod.Spec.NodeSelector[k]; ok && have != v {
			return forbid("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, have)
		}
	}
	for k, v := range s.NodeSelector {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		pod.Spec.NodeSelector[k] = v
	}
next:
	for _, t := range s.Tolerations {
		for _, have := range pod.Spec.Tolerations {
			if have.MatchToleration(&t) {
				continue next
			}
		}
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, t)
	}
	return nil
}
