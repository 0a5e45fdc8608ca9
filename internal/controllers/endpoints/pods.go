package endpoints

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// What the Endpoints and EndpointSlice controllers share: which pods back a service,
// whether they are ready, and which port each one serves a service port on.

// PodReady reports the pod's Ready condition.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ShouldInclude reports whether pod is listed among a service's endpoints at all: it
// must have an IP and may still run. Terminating pods are kept only when the caller
// shows them as such (EndpointSlices do, Endpoints do not).
func ShouldInclude(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	// A pod that has finished for good will never serve again.
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded
	case corev1.RestartPolicyOnFailure:
		return pod.Status.Phase != corev1.PodSucceeded
	}
	return true
}

// FindPort is the pod port that serves svcPort: a numeric targetPort as is, a named one
// looked up among the pod's container ports (so pods may differ), and the service port
// itself when targetPort is unset.
func FindPort(pod *corev1.Pod, svcPort *corev1.ServicePort) (int32, error) {
	tp := svcPort.TargetPort
	if tp.Type == intstr.String {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == tp.StrVal && p.Protocol == protocolOrTCP(svcPort.Protocol) {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("pod %s/%s has no %s port named %q", pod.Namespace, pod.Name, protocolOrTCP(svcPort.Protocol), tp.StrVal)
	}
	if tp.IntVal != 0 {
		return tp.IntVal, nil
	}
	return svcPort.Port, nil
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// Hostname is the DNS hostname the pod gets in svc: only pods that name svc as their
// subdomain (StatefulSet pods and their governing service) have one.
func Hostname(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname
	}
	return ""
}

// ServiceKeysForPod returns the namespace/name keys of the services in the pod's
// namespace whose selector matches any of the label sets given (old and new labels on
// an update, so a pod that stops matching is removed).
func ServiceKeysForPod(services corelisters.ServiceLister, namespace string, labelSets ...map[string]string) []string {
	svcs, err := services.Services(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, s := range svcs {
		if s.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromSet(s.Spec.Selector)
		for _, ls := range labelSets {
			if sel.Matches(labels.Set(ls)) {
				keys = append(keys, s.Namespace+"/"+s.Name)
				break
			}
		}
	}
	return keys
}

// PodChanged reports whether an update can change any service's endpoints.
func PodChanged(old, cur *corev1.Pod) bool {
	if old.ResourceVersion == cur.ResourceVersion {
		return false
	}
	if PodReady(old) != PodReady(cur) || old.Status.PodIP != cur.Status.PodIP ||
		len(old.Status.PodIPs) != len(cur.Status.PodIPs) ||
		old.Spec.NodeName != cur.Spec.NodeName || old.Status.Phase != cur.Status.Phase ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil) ||
		old.Spec.Hostname != cur.Spec.Hostname || old.Spec.Subdomain != cur.Spec.Subdomain {
		return true
	}
	return !labels.Equals(old.Labels, cur.Labels)
}

// PodHandlerKeys maps a pod event to the services to resync.
func PodHandlerKeys(services corelisters.ServiceLister, old, cur *corev1.Pod) []string {
	if old == nil {
		return ServiceKeysForPod(services, cur.Namespace, cur.Labels)
	}
	if !PodChanged(old, cur) {
		return nil
	}
	return ServiceKeysForPod(services, cur.Namespace, old.Labels, cur.Labels)
}
