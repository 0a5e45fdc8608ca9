package intern

import (
	"encoding/binary"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// message is what every generated API type's pointer implements.
type message[T any] interface {
	*T
	Marshal() ([]byte, error)
}

// shareSlice returns the shared slice equal to items, keyed by the items'
// protobuf encoding (which orders map keys, so equal values encode alike).
func shareSlice[T any, P message[T]](t *table[[]T], items []T) []T {
	if len(items) == 0 {
		return items
	}
	var key []byte
	for i := range items {
		data, err := P(&items[i]).Marshal()
		if err != nil {
			return items
		}
		key = binary.AppendUvarint(key, uint64(len(data)))
		key = append(key, data...)
	}
	return t.get(string(key), items)
}

// sharePointer returns the shared value equal to *v.
func sharePointer[T any, P message[T]](t *table[P], v P) P {
	if v == nil {
		return v
	}
	data, err := v.Marshal()
	if err != nil {
		return v
	}
	return t.get(string(data), v)
}

var (
	containers      table[[]corev1.Container]
	tolerations     table[[]corev1.Toleration]
	volumes         table[[]corev1.Volume]
	ownerReferences table[[]metav1.OwnerReference]
	affinities      table[*corev1.Affinity]
	podSecurity     table[*corev1.PodSecurityContext]
	spreads         table[[]corev1.TopologySpreadConstraint]
	int64s          table[*int64]
)

// Meta shares m's namespace, labels, annotations, owners and finalizers, and
// interns its generateName; name, uid and resourceVersion are each object's own.
func Meta(m *metav1.ObjectMeta) {
	m.Namespace = String(m.Namespace)
	m.GenerateName = String(m.GenerateName)
	m.Labels = StringMap(m.Labels)
	m.Annotations = StringMap(m.Annotations)
	m.OwnerReferences = shareSlice(&ownerReferences, m.OwnerReferences)
	strs(m.Finalizers)
}

// Pod shares the parts of p that pods have in common: see Meta, PodSpec and
// PodStatus. p must not be modified afterwards (nor must any cached object).
func Pod(p *corev1.Pod) {
	p.APIVersion, p.Kind = String(p.APIVersion), String(p.Kind)
	Meta(&p.ObjectMeta)
	podSpec(&p.Spec)
	podStatus(&p.Status)
}

// podSpec shares whole containers (resources, ports and all), tolerations,
// volumes, affinity and security context, which pods made from one template
// have alike, and interns the strings that name nodes, schedulers and policies.
func podSpec(s *corev1.PodSpec) {
	s.InitContainers = shareSlice(&containers, s.InitContainers)
	s.Containers = shareSlice(&containers, s.Containers)
	s.Tolerations = shareSlice(&tolerations, s.Tolerations)
	s.Volumes = shareSlice(&volumes, s.Volumes)
	s.TopologySpreadConstraints = shareSlice(&spreads, s.TopologySpreadConstraints)
	s.Affinity = sharePointer(&affinities, s.Affinity)
	s.SecurityContext = sharePointer(&podSecurity, s.SecurityContext)
	s.NodeSelector = StringMap(s.NodeSelector)
	s.TerminationGracePeriodSeconds = shareInt64(s.TerminationGracePeriodSeconds)
	s.NodeName = String(s.NodeName)
	s.SchedulerName = String(s.SchedulerName)
	s.ServiceAccountName = String(s.ServiceAccountName)
	s.DeprecatedServiceAccount = String(s.DeprecatedServiceAccount)
	s.PriorityClassName = String(s.PriorityClassName)
	s.RestartPolicy = corev1.RestartPolicy(String(string(s.RestartPolicy)))
	s.DNSPolicy = corev1.DNSPolicy(String(string(s.DNSPolicy)))
}

func shareInt64(v *int64) *int64 {
	if v == nil {
		return v
	}
	return int64s.get(string(binary.AppendVarint(nil, *v)), v)
}

// podStatus interns the status's words (phase, condition types and reasons,
// images) and its host address; addresses of pods and times are each pod's own.
func podStatus(s *corev1.PodStatus) {
	s.Phase = corev1.PodPhase(String(string(s.Phase)))
	s.QOSClass = corev1.PodQOSClass(String(string(s.QOSClass)))
	s.Reason, s.Message = String(s.Reason), String(s.Message)
	s.HostIP = String(s.HostIP)
	for i := range s.HostIPs {
		s.HostIPs[i].IP = String(s.HostIPs[i].IP)
	}
	for i := range s.Conditions {
		c := &s.Conditions[i]
		c.Type = corev1.PodConditionType(String(string(c.Type)))
		c.Status = corev1.ConditionStatus(String(string(c.Status)))
		c.Reason, c.Message = String(c.Reason), String(c.Message)
	}
	containerStatuses(s.InitContainerStatuses)
	containerStatuses(s.ContainerStatuses)
	containerStatuses(s.EphemeralContainerStatuses)
}

func containerStatuses(ss []corev1.ContainerStatus) {
	for i := range ss {
		c := &ss[i]
		c.Name, c.Image, c.ImageID = String(c.Name), String(c.Image), String(c.ImageID)
		for _, st := range []*corev1.ContainerState{&c.State, &c.LastTerminationState} {
			if t := st.Terminated; t != nil {
				t.Reason, t.Message = String(t.Reason), String(t.Message)
			}
			if w := st.Waiting; w != nil {
				w.Reason, w.Message = String(w.Reason), String(w.Message)
			}
		}
	}
}
