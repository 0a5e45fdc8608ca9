package resources

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (podTemplateStrategy) Default(obj runtime.Object) {
	if t, ok := obj.(*corev1.PodTemplate); ok {
		defaultPodTemplateSpec(&t.Template)
	}
}

func (podTemplateStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	if t, ok := obj.(*corev1.PodTemplate); ok {
		errs = append(errs, validatePodTemplateSpec(&t.Template, field.NewPath("template"))...)
	}
	return errs
}

// The PodTemplate kind, and the defaulting shared by Pods and every pod template
// (Deployment, ReplicaSet, Job...); the shared validation is in podspec.go.
//
// What only a Pod gets (requests from limits, enableServiceLinks, host-network ports,
// resize policy, and what admission adds) lives in pod.go: Kubernetes keeps those out
// of templates so that `kubectl get deploy -o yaml` shows no fields the user never set.

const (
	podDefaultGracePeriod    int64 = 30
	podDefaultFileMode       int32 = 0o644
	podDefaultTokenExpirySec int64 = 3600
)

// defaultPodTemplateSpec defaults the pod spec inside a template.
func defaultPodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t != nil {
		defaultPodSpec(&t.Spec)
	}
}

// defaultPodSpec fills what the core/v1 defaulters fill in a PodSpec.
func defaultPodSpec(s *corev1.PodSpec) {
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = podPtr(podDefaultGracePeriod)
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	// serviceAccount is the deprecated spelling of serviceAccountName; v1 conversion
	// keeps the two in step, taking the old field only when the new one is empty.
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
	for i := range s.InitContainers {
		defaultPodContainer(&s.InitContainers[i])
	}
	for i := range s.Containers {
		defaultPodContainer(&s.Containers[i])
	}
	for i := range s.EphemeralContainers {
		defaultPodContainer((*corev1.Container)(&s.EphemeralContainers[i].EphemeralContainerCommon))
	}
	for i := range s.Volumes {
		defaultPodVolume(&s.Volumes[i])
	}
	podRoundResources(s.Overhead)
	if s.Resources != nil {
		podRoundResources(s.Resources.Limits)
		podRoundResources(s.Resources.Requests)
	}
}

func defaultPodContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		if podImageIsLatest(c.Image) {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	podRoundResources(c.Resources.Limits)
	podRoundResources(c.Resources.Requests)
	defaultPodProbe(c.LivenessProbe)
	defaultPodProbe(c.ReadinessProbe)
	defaultPodProbe(c.StartupProbe)
	if l := c.Lifecycle; l != nil {
		for _, h := range []*corev1.LifecycleHandler{l.PostStart, l.PreStop} {
			if h != nil {
				defaultPodHTTPGet(h.HTTPGet)
			}
		}
	}
}

// podImageIsLatest reports whether an image reference resolves to the "latest" tag:
// an explicit :latest, or no tag and no digest. A digest alone pins the content, so it
// counts as a fixed tag even though none is written.
func podImageIsLatest(image string) bool {
	name, _, hasDigest := strings.Cut(image, "@")
	tag := ""
	// A colon before the last slash belongs to a registry host:port, not a tag.
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		tag = name[colon+1:]
	}
	if tag == "" && !hasDigest {
		return true
	}
	return tag == "latest"
}

func defaultPodProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultPodHTTPGet(p.HTTPGet)
}

func defaultPodHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func defaultPodVolume(v *corev1.Volume) {
	// A volume with no source is an emptyDir: the shortest way to ask for scratch space.
	if podVolumeSourceCount(&v.VolumeSource) == 0 {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	vs := &v.VolumeSource
	if vs.ConfigMap != nil && vs.ConfigMap.DefaultMode == nil {
		vs.ConfigMap.DefaultMode = podPtr(podDefaultFileMode)
	}
	if vs.Secret != nil && vs.Secret.DefaultMode == nil {
		vs.Secret.DefaultMode = podPtr(podDefaultFileMode)
	}
	if vs.DownwardAPI != nil {
		if vs.DownwardAPI.DefaultMode == nil {
			vs.DownwardAPI.DefaultMode = podPtr(podDefaultFileMode)
		}
		podDefaultDownwardItems(vs.DownwardAPI.Items)
	}
	if vs.Projected != nil {
		if vs.Projected.DefaultMode == nil {
			vs.Projected.DefaultMode = podPtr(podDefaultFileMode)
		}
		for _, src := range vs.Projected.Sources {
			if src.ServiceAccountToken != nil && src.ServiceAccountToken.ExpirationSeconds == nil {
				src.ServiceAccountToken.ExpirationSeconds = podPtr(podDefaultTokenExpirySec)
			}
			if src.DownwardAPI != nil {
				podDefaultDownwardItems(src.DownwardAPI.Items)
			}
		}
	}
	// An image volume's image is pulled as a container's is: always for :latest.
	if vs.Image != nil && vs.Image.PullPolicy == "" {
		vs.Image.PullPolicy = corev1.PullIfNotPresent
		if podImageIsLatest(vs.Image.Reference) {
			vs.Image.PullPolicy = corev1.PullAlways
		}
	}
	if vs.HostPath != nil && vs.HostPath.Type == nil {
		vs.HostPath.Type = podPtr(corev1.HostPathUnset)
	}
	if vs.ISCSI != nil && vs.ISCSI.ISCSIInterface == "" {
		vs.ISCSI.ISCSIInterface = "default"
	}
	if vs.RBD != nil {
		podDefaultString(&vs.RBD.RBDPool, "rbd")
		podDefaultString(&vs.RBD.RadosUser, "admin")
		podDefaultString(&vs.RBD.Keyring, "/etc/ceph/keyring")
	}
	if vs.Ephemeral != nil && vs.Ephemeral.VolumeClaimTemplate != nil {
		defaultPodClaimSpec(&vs.Ephemeral.VolumeClaimTemplate.Spec)
	}
}

func podDefaultDownwardItems(items []corev1.DownwardAPIVolumeFile) {
	for _, it := range items {
		if it.FieldRef != nil && it.FieldRef.APIVersion == "" {
			it.FieldRef.APIVersion = "v1"
		}
	}
}

// defaultPodClaimSpec defaults a claim embedded in a workload (ephemeral volumes,
// StatefulSet volumeClaimTemplates) as a PersistentVolumeClaim's spec is defaulted.
func defaultPodClaimSpec(s *corev1.PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		s.VolumeMode = podPtr(corev1.PersistentVolumeFilesystem)
	}
	podRoundResources(s.Resources.Limits)
	podRoundResources(s.Resources.Requests)
}

// podRoundResources rounds quantities up to milli-units, the finest precision the
// system keeps, so that what is stored is what will be enforced.
func podRoundResources(l corev1.ResourceList) {
	for name, q := range l {
		if q.RoundUp(resource.Milli) {
			l[name] = q
		}
	}
}

func podVolumeSourceCount(vs *corev1.VolumeSource) int {
	n, _ := podVolumeSources(vs)
	return n
}

// podVolumeSources counts the sources set in a VolumeSource and names them as JSON does.
func podVolumeSources(vs *corev1.VolumeSource) (int, []string) {
	v := reflect.ValueOf(vs).Elem()
	var names []string
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			names = append(names, tag)
		}
	}
	return len(names), names
}

func podDefaultString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func podPtr[T any](v T) *T { return &v }

// podIntOrStringPtr is a helper for workload defaults such as "25%".
func podIntOrStringPtr(v intstr.IntOrString) *intstr.IntOrString { return &v }
