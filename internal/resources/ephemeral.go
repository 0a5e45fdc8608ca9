package resources

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// keepAllButEphemeralContainers makes a write through pods/ephemeralcontainers
// change spec.ephemeralContainers and nothing else: the rest of the pod, status
// and metadata included, stays as stored (managedFields are the field manager's).
func keepAllButEphemeralContainers(pod, old *corev1.Pod) {
	ecs := pod.Spec.EphemeralContainers
	managed := pod.ManagedFields
	*pod = *old.DeepCopy()
	pod.Spec.EphemeralContainers = ecs
	pod.ManagedFields = managed
}

// validateEphemeralContainersUpdate: ephemeral containers are only ever added: the
// ones the kubelet may already run stay exactly as they were, and new ones carry
// none of what only a container of the pod's own design has (ports, probes,
// lifecycle hooks, resources).
func validateEphemeralContainersUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "ephemeralContainers")
	have := map[string]*corev1.EphemeralContainer{}
	for i := range pod.Spec.EphemeralContainers {
		have[pod.Spec.EphemeralContainers[i].Name] = &pod.Spec.EphemeralContainers[i]
	}
	existing := map[string]bool{}
	for i := range old.Spec.EphemeralContainers {
		o := &old.Spec.EphemeralContainers[i]
		existing[o.Name] = true
		if n := have[o.Name]; n == nil {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be removed", o.Name)))
		} else if !equality.Semantic.DeepEqual(n, o) {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be changed", o.Name)))
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		ec := &pod.Spec.EphemeralContainers[i]
		if !existing[ec.Name] {
			errs = append(errs, validateNewEphemeralContainer(ec, pod, p.Index(i))...)
		}
	}
	return errs
}

func validateNewEphemeralContainer(ec *corev1.EphemeralContainer, pod *corev1.Pod, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ec.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"ports", len(ec.Ports) > 0}, {"livenessProbe", ec.LivenessProbe != nil}, {"readinessProbe", ec.ReadinessProbe != nil},
		{"startupProbe", ec.StartupProbe != nil}, {"lifecycle", ec.Lifecycle != nil},
		{"resources", len(ec.Resources.Limits)+len(ec.Resources.Requests) > 0}, {"restartPolicy", ec.RestartPolicy != nil}} {
		if f.set {
			errs = append(errs, field.Forbidden(p.Child(f.name), "cannot be set for an Ephemeral Container"))
		}
	}
	if t := ec.TargetContainerName; t != "" && !hasContainer(pod, t) {
		errs = append(errs, field.NotFound(p.Child("targetContainerName"), t))
	}
	return errs
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				return true
			}
		}
	}
	return false
}
