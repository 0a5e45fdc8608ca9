package resources

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The pods/resize subresource: the one way to change a running pod's CPU and memory.
// The kubelet then applies the new values in place (or restarts the container when
// its resizePolicy says so) and reports them in status.containerStatuses[].resources.

// keepAllButResize makes a write through pods/resize change only the containers'
// resources and resize policies: everything else, status and metadata included,
// stays as stored. Renamed, added or reordered containers are left as sent so that
// validation reports them.
func keepAllButResize(pod, old *corev1.Pod) {
	if len(pod.Spec.Containers) != len(old.Spec.Containers) || len(pod.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return
	}
	merge := func(cs, olds []corev1.Container) ([]corev1.Container, bool) {
		out := make([]corev1.Container, len(olds))
		for i := range olds {
			if cs[i].Name != olds[i].Name {
				return nil, false
			}
			out[i] = *olds[i].DeepCopy()
			out[i].Resources = cs[i].Resources
			out[i].ResizePolicy = cs[i].ResizePolicy
		}
		return out, true
	}
	cs, ok1 := merge(pod.Spec.Containers, old.Spec.Containers)
	inits, ok2 := merge(pod.Spec.InitContainers, old.Spec.InitContainers)
	if !ok1 || !ok2 {
		return
	}
	meta := pod.ObjectMeta
	*pod = *old.DeepCopy()
	pod.ObjectMeta = meta
	metav1.ResetObjectMetaForStatus(&pod.ObjectMeta, &old.ObjectMeta)
	pod.Spec.Containers, pod.Spec.InitContainers = cs, inits
}

// ValidateSubresource checks a write through pods/resize with the rules of
// Kubernetes' resize validation in place of the ordinary update's (which forbids
// any change to resources).
func (podStrategy) ValidateSubresource(obj, old runtime.Object, subresource string) (field.ErrorList, bool) {
	pod, ok1 := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if subresource != "resize" || !ok1 || !ok2 {
		return nil, false
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validatePodSpec(&pod.Spec, field.NewPath("spec"))...)
	return append(errs, validatePodResize(pod, oldPod)...), true
}

// validatePodResize: only the CPU and memory of app containers and sidecars may
// change, none may be removed, and the QoS class (which decides the pod's cgroup and
// its eviction rank) must stay what it was.
func validatePodResize(pod, old *corev1.Pod) field.ErrorList {
	sp := field.NewPath("spec")
	if _, mirror := old.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if old.Spec.OS != nil && old.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	var errs field.ErrorList
	oldQOS := old.Status.QOSClass
	if oldQOS == "" {
		oldQOS = QOSClass(old)
	}
	if QOSClass(pod) != oldQOS {
		errs = append(errs, field.Invalid(sp, QOSClass(pod), "Pod QOS Class may not change as a result of resizing"))
	}
	if r := pod.Spec.Resources; r != nil && len(r.Requests)+len(r.Limits) > 0 {
		return append(errs, field.Forbidden(sp.Child("resources"), "resize of pods with pod-level resources is not supported"))
	}
	if order := validateResizeOrdering(pod, old, sp); len(order) > 0 {
		return append(errs, order...)
	}
	for i := range old.Spec.InitContainers {
		n, o := &pod.Spec.InitContainers[i], &old.Spec.InitContainers[i]
		p := sp.Child("initContainers").Index(i)
		if !isRestartable(o) {
			if !equality.Semantic.DeepEqual(n.Resources, o.Resources) {
				errs = append(errs, field.Forbidden(sp, "resources for non-sidecar init containers are immutable"))
			}
			continue
		}
		errs = append(errs, validateContainerResize(n, o, p)...)
	}
	for i := range old.Spec.Containers {
		errs = append(errs, validateContainerResize(&pod.Spec.Containers[i], &old.Spec.Containers[i], sp.Child("containers").Index(i))...)
	}
	return errs
}

func isRestartable(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func validateResizeOrdering(pod, old *corev1.Pod, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name     string
		new, old []corev1.Container
	}{{"containers", pod.Spec.Containers, old.Spec.Containers}, {"initContainers", pod.Spec.InitContainers, old.Spec.InitContainers}} {
		if len(l.new) != len(l.old) {
			errs = append(errs, field.Forbidden(sp.Child(l.name), l.name+" may not be added or removed on resize"))
			continue
		}
		for i := range l.old {
			if l.new[i].Name != l.old[i].Name {
				errs = append(errs, field.Forbidden(sp.Child(l.name).Index(i).Child("name"), l.name+" may not be renamed or reordered on resize"))
			}
		}
	}
	return errs
}

// validateContainerResize: requests and limits may change but not disappear, and
// only CPU and memory are resizable.
func validateContainerResize(n, o *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rp := p.Child("resources")
	for _, l := range []struct {
		name     string
		new, old corev1.ResourceList
	}{{"requests", n.Resources.Requests, o.Resources.Requests}, {"limits", n.Resources.Limits, o.Resources.Limits}} {
		for name := range l.old {
			if _, ok := l.new[name]; !ok {
				errs = append(errs, field.Forbidden(rp.Child(l.name), fmt.Sprintf("resource %s cannot be removed", l.name)))
				break
			}
		}
		for name, q := range l.new {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				continue
			}
			if oq, ok := l.old[name]; !ok || oq.Cmp(q) != 0 {
				errs = append(errs, field.Forbidden(rp.Child(l.name).Key(string(name)), "only cpu and memory resources are mutable"))
			}
		}
	}
	return errs
}

// validateResizePolicy: one policy per resource, for CPU or memory, and a pod that is
// never restarted cannot ask for a restart on resize.
func validateResizePolicy(ps []corev1.ContainerResizePolicy, podPolicy corev1.RestartPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.ResourceName]bool{}
	for i, rp := range ps {
		ip := p.Index(i)
		if seen[rp.ResourceName] {
			errs = append(errs, field.Duplicate(ip, rp.ResourceName))
		}
		seen[rp.ResourceName] = true
		switch rp.ResourceName {
		case corev1.ResourceCPU, corev1.ResourceMemory:
		case "":
			errs = append(errs, field.Required(ip.Child("resourceName"), ""))
		default:
			errs = append(errs, field.NotSupported(ip.Child("resourceName"), rp.ResourceName, []string{"cpu", "memory"}))
		}
		switch rp.RestartPolicy {
		case corev1.NotRequired, corev1.RestartContainer:
		case "":
			errs = append(errs, field.Required(ip.Child("restartPolicy"), ""))
		default:
			errs = append(errs, field.NotSupported(ip.Child("restartPolicy"), rp.RestartPolicy, []string{string(corev1.NotRequired), string(corev1.RestartContainer)}))
		}
		if podPolicy == corev1.RestartPolicyNever && rp.RestartPolicy == corev1.RestartContainer {
			errs = append(errs, field.Invalid(ip.Child("restartPolicy"), rp.RestartPolicy, "must be 'NotRequired' when pod `restartPolicy` is 'Never'"))
		}
	}
	return errs
}
