package kubelet

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// securityContext maps the pod's and the container's security settings (the
// container's win) to CRI: user and groups (fsGroup joins the supplemental groups, so
// the container can use the volumes it owns), privileges, capabilities, a read-only
// root and the seccomp profile.
func securityContext(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	if uid := effectiveRunAsUser(pod, c); uid != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *uid}
	}
	if gid := effectiveRunAsGroup(pod, c); gid != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *gid}
	}
	sc.Seccomp = seccompProfile(pod, c)
	csc := c.SecurityContext
	if csc == nil {
		return sc
	}
	sc.Privileged = csc.Privileged != nil && *csc.Privileged
	sc.ReadonlyRootfs = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	sc.NoNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	if caps := csc.Capabilities; caps != nil {
		sc.Capabilities = &runtimeapi.Capability{}
		for _, a := range caps.Add {
			sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, capName(a))
		}
		for _, d := range caps.Drop {
			sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, capName(d))
		}
	}
	return sc
}

func effectiveRunAsUser(pod *corev1.Pod, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsUser
	}
	return nil
}

func effectiveRunAsGroup(pod *corev1.Pod, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsGroup != nil {
		return c.SecurityContext.RunAsGroup
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsGroup
	}
	return nil
}

func effectiveRunAsNonRoot(pod *corev1.Pod, c *corev1.Container) bool {
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		return *c.SecurityContext.RunAsNonRoot
	}
	return pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot
}

// seccompProfile is the container's seccomp profile, else the pod's; none set means
// Unconfined, as in Kubernetes.
func seccompProfile(pod *corev1.Pod, c *corev1.Container) *runtimeapi.SecurityProfile {
	var p *corev1.SeccompProfile
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		p = c.SecurityContext.SeccompProfile
	} else if pod.Spec.SecurityContext != nil {
		p = pod.Spec.SecurityContext.SeccompProfile
	}
	if p == nil {
		return nil
	}
	switch p.Type {
	case corev1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}
	case corev1.SeccompProfileTypeLocalhost:
		ref := ""
		if p.LocalhostProfile != nil {
			ref = *p.LocalhostProfile
		}
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: ref}
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
}

// capName accepts NET_ADMIN and CAP_NET_ADMIN alike and passes the bare name, to
// which containerd adds the CAP_ prefix itself.
func capName(c corev1.Capability) string {
	return strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_")
}

// verifyNonRoot refuses, with Kubernetes' messages, to start a runAsNonRoot container
// that would run as root: by its runAsUser, by its image's user, or with an image user
// that is a name and so cannot be checked.
func (w *podWorker) verifyNonRoot(ctx context.Context, pod *corev1.Pod, c *corev1.Container, imageRef string) error {
	if !effectiveRunAsNonRoot(pod, c) {
		return nil
	}
	if uid := effectiveRunAsUser(pod, c); uid != nil {
		return nonRootByUser(pod, c, *uid)
	}
	st, err := w.k.runtime.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: imageRef}, false)
	if err != nil {
		return fmt.Errorf("image status of %s: %w", c.Image, err)
	}
	return nonRootByImage(pod, c, st.GetImage())
}

func nonRootByUser(pod *corev1.Pod, c *corev1.Container, uid int64) error {
	if uid == 0 {
		return configErrorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podDesc(pod), c.Name)
	}
	return nil
}

// nonRootByImage judges the image's configured user: no user means root.
func nonRootByImage(pod *corev1.Pod, c *corev1.Container, img *runtimeapi.Image) error {
	if img != nil && img.Uid == nil && img.Username != "" {
		return configErrorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", img.Username, podDesc(pod), c.Name)
	}
	if img == nil || img.Uid == nil || img.Uid.Value == 0 {
		return configErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podDesc(pod), c.Name)
	}
	return nil
}

func podDesc(pod *corev1.Pod) string {
	return pod.Name + "_" + pod.Namespace + "(" + string(pod.UID) + ")"
}
