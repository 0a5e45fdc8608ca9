package resources

import (
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validation shared by Pods and pod templates. Paths and messages follow Kubernetes'
// so that kubectl users see the errors they already know how to read.

const (
	podFileModeMsg = "must be a number between 0 and 0777 (octal), both inclusive"
	podNegativeMsg = "must be greater than or equal to 0"
)

// validatePodTemplateSpec checks a template's labels, annotations and pod spec. Labels
// are reported at <template>.labels, as Kubernetes does (not .metadata.labels).
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, p.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, p.Child("annotations"))...)
	return append(errs, validatePodSpec(&t.Spec, p.Child("spec"))...)
}

// validatePodSpec checks everything in a pod spec that does not depend on whether it
// belongs to a Pod or a template.
func validatePodSpec(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	vols, errs := validatePodVolumes(s.Volumes, p.Child("volumes"))
	errs = append(errs, validatePodContainers(s, vols, p)...)
	errs = append(errs, podOneOf(p.Child("restartPolicy"), s.RestartPolicy,
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	errs = append(errs, podOneOf(p.Child("dnsPolicy"), s.DNSPolicy,
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	if s.DNSPolicy == corev1.DNSNone && s.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, podNameRule(s.ServiceAccountName, p.Child("serviceAccountName"), validation.IsDNS1123Subdomain)...)
	errs = append(errs, podNameRule(s.NodeName, p.Child("nodeName"), validation.IsDNS1123Subdomain)...)
	errs = append(errs, podNameRule(s.Hostname, p.Child("hostname"), validation.IsDNS1123Label)...)
	errs = append(errs, podNameRule(s.Subdomain, p.Child("subdomain"), validation.IsDNS1123Label)...)
	errs = append(errs, podNameRule(s.PriorityClassName, p.Child("priorityClassName"), validation.IsDNS1123Subdomain)...)
	errs = append(errs, podNameRule(s.SchedulerName, p.Child("schedulerName"), validation.IsDNS1123Subdomain)...)
	if d := s.ActiveDeadlineSeconds; d != nil && (*d < 1 || *d > math.MaxInt32) {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *d, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	errs = append(errs, validatePodTolerations(s.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, validatePodSysctls(s, p.Child("securityContext", "sysctls"))...)
	for i, sec := range s.ImagePullSecrets {
		if sec.Name == "" {
			errs = append(errs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// podOneOf checks a required enumerated value.
func podOneOf[T ~string](p *field.Path, v T, allowed ...T) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	s := make([]string, len(allowed))
	for i, a := range allowed {
		s[i] = string(a)
	}
	return field.ErrorList{field.NotSupported(p, v, s)}
}

// podNameRule checks an optional name against a DNS rule.
func podNameRule(v string, p *field.Path, rule func(string) []string) field.ErrorList {
	if v == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range rule(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	return errs
}

// validatePodVolumes checks volumes and returns the set of names mounts may refer to.
func validatePodVolumes(vols []corev1.Volume, p *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case names[v.Name]:
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			errs = append(errs, podNameRule(v.Name, vp.Child("name"), validation.IsDNS1123Label)...)
		}
		names[v.Name] = true
		n, srcs := podVolumeSources(&v.VolumeSource)
		switch {
		case n == 0:
			errs = append(errs, field.Required(vp, "must specify a volume type"))
		case n > 1:
			errs = append(errs, field.Forbidden(vp.Child(srcs[1]), "may not specify more than 1 volume type"))
		}
		errs = append(errs, validatePodVolumeSource(&v.VolumeSource, vp)...)
	}
	return names, errs
}

func validatePodVolumeSource(vs *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	required := func(v string, parts ...string) {
		if v == "" {
			errs = append(errs, field.Required(p.Child(parts[0], parts[1:]...), ""))
		}
	}
	mode := func(m *int32, parts ...string) {
		if m != nil && (*m < 0 || *m > 0o777) {
			errs = append(errs, field.Invalid(p.Child(parts[0], parts[1:]...), *m, podFileModeMsg))
		}
	}
	items := func(ks []corev1.KeyToPath, src string) {
		for i, k := range ks {
			ip := p.Child(src, "items").Index(i)
			if k.Key == "" {
				errs = append(errs, field.Required(ip.Child("key"), ""))
			}
			if k.Path == "" {
				errs = append(errs, field.Required(ip.Child("path"), ""))
			} else {
				errs = append(errs, validatePodRelativePath(k.Path, ip.Child("path"))...)
			}
			mode(k.Mode, src, "items", fmt.Sprint(i), "mode")
		}
	}
	if s := vs.ConfigMap; s != nil {
		required(s.Name, "configMap", "name")
		mode(s.DefaultMode, "configMap", "defaultMode")
		items(s.Items, "configMap")
	}
	if s := vs.Secret; s != nil {
		required(s.SecretName, "secret", "secretName")
		mode(s.DefaultMode, "secret", "defaultMode")
		items(s.Items, "secret")
	}
	if s := vs.HostPath; s != nil {
		required(s.Path, "hostPath", "path")
		if s.Type != nil && *s.Type != corev1.HostPathUnset {
			errs = append(errs, podOneOf(p.Child("hostPath", "type"), *s.Type, corev1.HostPathDirectoryOrCreate,
				corev1.HostPathDirectory, corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket,
				corev1.HostPathCharDev, corev1.HostPathBlockDev)...)
		}
	}
	if s := vs.PersistentVolumeClaim; s != nil {
		required(s.ClaimName, "persistentVolumeClaim", "claimName")
	}
	if s := vs.NFS; s != nil {
		required(s.Server, "nfs", "server")
		required(s.Path, "nfs", "path")
	}
	if s := vs.EmptyDir; s != nil && s.SizeLimit != nil && s.SizeLimit.Sign() < 0 {
		errs = append(errs, field.Invalid(p.Child("emptyDir", "sizeLimit"), s.SizeLimit.String(), podNegativeMsg))
	}
	if s := vs.DownwardAPI; s != nil {
		mode(s.DefaultMode, "downwardAPI", "defaultMode")
	}
	if s := vs.Projected; s != nil {
		mode(s.DefaultMode, "projected", "defaultMode")
		errs = append(errs, validateProjectedSources(s.Sources, p.Child("projected"))...)
	}
	if s := vs.CSI; s != nil {
		required(s.Driver, "csi", "driver")
	}
	if s := vs.Image; s != nil {
		required(s.Reference, "image", "reference")
	}
	return errs
}

func validatePodTolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		tp := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		} else if t.Operator != corev1.TolerationOpExists {
			// An empty key is a wildcard, and only "exists" makes sense for a wildcard.
			errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator,
				[]string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		if t.Effect != "" {
			errs = append(errs, podOneOf(tp.Child("effect"), t.Effect, corev1.TaintEffectNoSchedule,
				corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
		}
	}
	return errs
}
