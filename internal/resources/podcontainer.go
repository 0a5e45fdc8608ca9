package resources

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation of a pod spec's containers: names, ports, environment, mounts,
// resources, probes and lifecycle handlers.
func validatePodContainers(s *corev1.PodSpec, vols map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	// Names share one space across init, app and ephemeral containers: logs, exec and
	// status all address a container by name alone.
	names := map[string]bool{}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		cp := p.Child("initContainers").Index(i)
		errs = append(errs, validatePodContainer(c, s, names, vols, cp)...)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if c.RestartPolicy != nil && !sidecar {
			errs = append(errs, field.NotSupported(cp.Child("restartPolicy"), *c.RestartPolicy, []string{string(corev1.ContainerRestartPolicyAlways)}))
		}
		if sidecar {
			errs = append(errs, validatePodLivenessLike(c, cp)...)
			continue
		}
		// A plain init container runs to completion, so probing it means nothing.
		for _, f := range []struct {
			name string
			set  bool
		}{{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil},
			{"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil}} {
			if f.set {
				errs = append(errs, field.Forbidden(cp.Child(f.name), "may not be set for init containers without restartPolicy=Always"))
			}
		}
	}
	for i := range s.Containers {
		c := &s.Containers[i]
		cp := p.Child("containers").Index(i)
		errs = append(errs, validatePodContainer(c, s, names, vols, cp)...)
		errs = append(errs, validatePodLivenessLike(c, cp)...)
	}
	for i := range s.EphemeralContainers {
		c := &s.EphemeralContainers[i]
		np := p.Child("ephemeralContainers").Index(i).Child("name")
		if c.Name == "" {
			errs = append(errs, field.Required(np, ""))
		} else if names[c.Name] {
			errs = append(errs, field.Duplicate(np, c.Name))
		}
		names[c.Name] = true
	}
	return errs
}

// validatePodLivenessLike: liveness and startup probes judge failure, so one success
// is all that can mean anything.
func validatePodLivenessLike(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if pr := c.LivenessProbe; pr != nil && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("livenessProbe", "successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if pr := c.StartupProbe; pr != nil && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("startupProbe", "successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validatePodContainer(c *corev1.Container, s *corev1.PodSpec, names, vols map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	np := p.Child("name")
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(np, ""))
	case names[c.Name]:
		errs = append(errs, field.Duplicate(np, c.Name))
	default:
		errs = append(errs, podNameRule(c.Name, np, validation.IsDNS1123Label)...)
	}
	names[c.Name] = true
	errs = append(errs, validateResizePolicy(c.ResizePolicy, s.RestartPolicy, p.Child("resizePolicy"))...)
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	errs = append(errs, podOneOf(p.Child("imagePullPolicy"), c.ImagePullPolicy,
		corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent)...)
	errs = append(errs, podOneOf(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	errs = append(errs, validatePodPorts(c.Ports, s.HostNetwork, p.Child("ports"))...)
	errs = append(errs, validatePodEnv(c.Env, p.Child("env"))...)
	errs = append(errs, validatePodMounts(c.VolumeMounts, vols, p.Child("volumeMounts"))...)
	errs = append(errs, validatePodResources(&c.Resources, p.Child("resources"))...)
	errs = append(errs, validatePodProbe(c.LivenessProbe, p.Child("livenessProbe"))...)
	errs = append(errs, validatePodProbe(c.ReadinessProbe, p.Child("readinessProbe"))...)
	errs = append(errs, validatePodProbe(c.StartupProbe, p.Child("startupProbe"))...)
	if l := c.Lifecycle; l != nil {
		errs = append(errs, validatePodHook(l.PostStart, p.Child("lifecycle", "postStart"))...)
		errs = append(errs, validatePodHook(l.PreStop, p.Child("lifecycle", "preStop"))...)
	}
	return errs
}

func validatePodPorts(ports []corev1.ContainerPort, hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(ip.Child("name"), port.Name, msg))
			}
			if names[port.Name] {
				errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(ip.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(ip.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(ip.Child("hostPort"), port.HostPort, msg))
			}
		}
		// With the host's network there is no translation: the two ports are one.
		if hostNetwork && port.HostPort != 0 && port.HostPort != port.ContainerPort {
			errs = append(errs, field.Invalid(ip.Child("containerPort"), port.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
		}
		errs = append(errs, podOneOf(ip.Child("protocol"), port.Protocol,
			corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
	}
	return errs
}

// podFieldRefPaths are the pod fields the downward API can expose through env.
var podFieldRefPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs",
	"status.podIP", "status.podIPs"}

func validatePodEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), e.Name, msg))
			}
		}
		vf := e.ValueFrom
		if vf == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		n := 0
		if vf.FieldRef != nil {
			n++
			errs = append(errs, validatePodFieldRef(vf.FieldRef, vp.Child("fieldRef"))...)
		}
		if vf.ResourceFieldRef != nil {
			n++
			if vf.ResourceFieldRef.Resource == "" {
				errs = append(errs, field.Required(vp.Child("resourceFieldRef", "resource"), ""))
			}
		}
		if r := vf.ConfigMapKeyRef; r != nil {
			n++
			errs = append(errs, validatePodKeyRef(r.Name, r.Key, vp.Child("configMapKeyRef"))...)
		}
		if r := vf.SecretKeyRef; r != nil {
			n++
			errs = append(errs, validatePodKeyRef(r.Name, r.Key, vp.Child("secretKeyRef"))...)
		}
		if vf.FileKeyRef != nil {
			n++
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(vp, "", "may not have more than one field specified at a time"))
		case e.Value != "":
			errs = append(errs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validatePodFieldRef(r *corev1.ObjectFieldSelector, p *field.Path) field.ErrorList {
	if r.FieldPath == "" {
		return field.ErrorList{field.Required(p.Child("fieldPath"), "")}
	}
	// Single labels and annotations are addressable by key.
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(r.FieldPath, prefix) && strings.HasSuffix(r.FieldPath, "']") {
			return nil
		}
	}
	for _, ok := range podFieldRefPaths {
		if r.FieldPath == ok {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p.Child("fieldPath"), r.FieldPath, podFieldRefPaths)}
}

func validatePodKeyRef(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(p.Child("key"), key, msg))
		}
	}
	return errs
}

func validatePodMounts(mounts []corev1.VolumeMount, vols map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		mp := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !vols[m.Name] {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else if paths[m.MountPath] {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			errs = append(errs, validatePodRelativePath(m.SubPath, mp.Child("subPath"))...)
		}
	}
	return errs
}

// validatePodRelativePath keeps a path inside the volume it names a part of.
func validatePodRelativePath(v string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(v) {
		errs = append(errs, field.Invalid(p, v, "must be a relative path"))
	}
	for _, part := range strings.Split(v, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(p, v, "must not contain '..'"))
			break
		}
	}
	return errs
}

func validatePodResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(l corev1.ResourceList, lp *field.Path) {
		for name, q := range l {
			kp := lp.Key(string(name))
			errs = append(errs, validatePodResourceName(string(name), kp)...)
			if q.Cmp(resource.Quantity{}) < 0 {
				errs = append(errs, field.Invalid(kp, q.String(), podNegativeMsg))
			}
		}
	}
	check(r.Limits, p.Child("limits"))
	check(r.Requests, p.Child("requests"))
	for name, q := range r.Requests {
		if lim, ok := r.Limits[name]; ok && q.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), q.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

// validatePodResourceName accepts the standard container resources and extended
// resources, which are always domain-qualified.
func validatePodResourceName(name string, p *field.Path) field.ErrorList {
	if strings.Contains(name, "/") {
		return metav1validation.ValidateLabelName(name, p)
	}
	switch {
	case name == string(corev1.ResourceCPU), name == string(corev1.ResourceMemory),
		name == string(corev1.ResourceEphemeralStorage), strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		return nil
	}
	return field.ErrorList{field.Invalid(p, name, "must be a standard resource for containers")}
}

func validatePodProbe(pr *corev1.Probe, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validatePodHandler(pr.Exec, pr.HTTPGet, pr.TCPSocket, pr.GRPC, nil, p)
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds},
		{"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(f.v), p.Child(f.name))...)
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

func validatePodHook(h *corev1.LifecycleHandler, p *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	return validatePodHandler(h.Exec, h.HTTPGet, h.TCPSocket, nil, h.Sleep, p)
}

// validatePodHandler checks the one action a probe or hook runs.
func validatePodHandler(exec *corev1.ExecAction, http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction,
	grpc *corev1.GRPCAction, sleep *corev1.SleepAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var set []string
	if exec != nil {
		set = append(set, "exec")
		if len(exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if http != nil {
		set = append(set, "httpGet")
		hp := p.Child("httpGet")
		if http.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		}
		errs = append(errs, validatePortNumOrName(http.Port, hp.Child("port"))...)
		errs = append(errs, podOneOf(hp.Child("scheme"), http.Scheme, corev1.URISchemeHTTP, corev1.URISchemeHTTPS)...)
		for i, h := range http.HTTPHeaders {
			for _, msg := range validation.IsHTTPHeaderName(h.Name) {
				errs = append(errs, field.Invalid(hp.Child("httpHeaders").Index(i).Child("name"), h.Name, msg))
			}
		}
	}
	if tcp != nil {
		set = append(set, "tcpSocket")
		errs = append(errs, validatePortNumOrName(tcp.Port, p.Child("tcpSocket", "port"))...)
	}
	if grpc != nil {
		set = append(set, "grpc")
		for _, msg := range validation.IsValidPortNum(int(grpc.Port)) {
			errs = append(errs, field.Invalid(p.Child("grpc", "port"), grpc.Port, msg))
		}
	}
	if sleep != nil {
		set = append(set, "sleep")
		errs = append(errs, apivalidation.ValidateNonnegativeField(sleep.Seconds, p.Child("sleep", "seconds"))...)
	}
	switch {
	case len(set) == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case len(set) > 1:
		errs = append(errs, field.Forbidden(p.Child(set[1]), "may not specify more than 1 handler type"))
	}
	return errs
}
