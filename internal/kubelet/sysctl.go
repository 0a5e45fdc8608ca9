package kubelet

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/node/util/sysctl"
	"k8s.io/pod-security-admission/policy"
)

// Sysctls: a pod may set only the namespaced sysctls Kubernetes calls safe (those the
// Pod Security baseline allows: they cannot affect other pods or the node). The
// kubelet refuses a pod asking for any other with reason SysctlForbidden, before
// anything of it runs; safe ones go to the runtime with the sandbox.

// podSysctls is the pod's sysctls with names in dotted form (kernel/shm_rmid_forced
// is kernel.shm_rmid_forced), as the runtime expects them.
func podSysctls(pod *corev1.Pod) map[string]string {
	out := map[string]string{}
	if sc := pod.Spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			out[sysctl.NormalizeName(s.Name)] = s.Value
		}
	}
	return out
}

// forbiddenSysctls is why the pod may not run here, "" when its sysctls are safe.
func forbiddenSysctls(pod *corev1.Pod) string {
	sysctls := podSysctls(pod)
	if len(sysctls) == 0 {
		return ""
	}
	spec := corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{}}
	for name, value := range sysctls {
		spec.SecurityContext.Sysctls = append(spec.SecurityContext.Sysctls, corev1.Sysctl{Name: name, Value: value})
	}
	versions := policy.CheckSysctls().Versions
	res := versions[len(versions)-1].CheckPod(&pod.ObjectMeta, &spec)
	if res.Allowed {
		return ""
	}
	var quoted []string
	for _, name := range strings.Split(res.ForbiddenDetail, ", ") {
		quoted = append(quoted, fmt.Sprintf("%q", name))
	}
	return fmt.Sprintf("Pod was rejected: forbidden sysctl: %s not allowlisted", strings.Join(quoted, ", "))
}
