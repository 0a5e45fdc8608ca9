package resources

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const statefulSetUpdateForbidden = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

func (statefulSetStrategy) Default(obj runtime.Object) {
	ss, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return
	}
	s := &ss.Spec
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := s.UpdateStrategy.RollingUpdate; s.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil {
		if ru.Partition == nil {
			ru.Partition = podPtr(int32(0))
		}
		// MaxUnavailableStatefulSet is on by default since 1.35.
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = podIntOrStringPtr(intstr.FromInt32(1))
		}
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if pr := s.PersistentVolumeClaimRetentionPolicy; pr.WhenDeleted == "" {
		pr.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if pr := s.PersistentVolumeClaimRetentionPolicy; pr.WhenScaled == "" {
		pr.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Replicas == nil {
		s.Replicas = podPtr(int32(1))
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = podPtr(int32(10))
	}
	for i := range s.VolumeClaimTemplates {
		c := &s.VolumeClaimTemplates[i]
		if c.Status.Phase == "" {
			c.Status.Phase = corev1.ClaimPending
		}
		defaultPodClaimSpec(&c.Spec)
	}
	defaultPodTemplateSpec(&s.Template)
}

func (statefulSetStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ss, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return nil
	}
	s := &ss.Spec
	sp := field.NewPath("spec")
	// Pod names are <set>-<ordinal> and double as host names, hence a DNS label.
	errs := validateMeta(obj, old, apivalidation.NameIsDNSLabel)
	switch s.PodManagementPolicy {
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	case "":
		errs = append(errs, field.Required(sp.Child("podManagementPolicy"), ""))
	default:
		errs = append(errs, field.Invalid(sp.Child("podManagementPolicy"), s.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetStrategy(&s.UpdateStrategy, sp.Child("updateStrategy"))...)
	if pr := s.PersistentVolumeClaimRetentionPolicy; pr != nil {
		pp := sp.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, podOneOf(pp.Child("whenDeleted"), pr.WhenDeleted,
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType)...)
		errs = append(errs, podOneOf(pp.Child("whenScaled"), pr.WhenScaled,
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType)...)
	}
	errs = append(errs, validateWorkloadCount(s.Replicas, sp.Child("replicas"))...)
	errs = append(errs, validateWorkloadCount(&s.MinReadySeconds, sp.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadCount(s.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	if s.Ordinals != nil {
		errs = append(errs, validateWorkloadCount(&s.Ordinals.Start, sp.Child("ordinals", "start"))...)
	}
	errs = append(errs, validateWorkloadSelector(s.Selector, &s.Template, sp, "statefulset")...)
	// Containers may mount the per-pod claims by template name, as if they were volumes.
	tmpl := s.Template.DeepCopy()
	have := map[string]bool{}
	for _, v := range tmpl.Spec.Volumes {
		have[v.Name] = true
	}
	for i, c := range s.VolumeClaimTemplates {
		cp := sp.Child("volumeClaimTemplates").Index(i)
		errs = append(errs, validateStatefulSetClaim(&c, cp)...)
		if c.Name != "" && !have[c.Name] {
			tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
		}
	}
	errs = append(errs, validateWorkloadTemplate(tmpl, sp.Child("template"), "StatefulSet")...)
	if o, ok := old.(*appsv1.StatefulSet); ok {
		errs = append(errs, validateStatefulSetUpdate(s, &o.Spec)...)
	}
	return errs
}

func validateStatefulSetStrategy(us *appsv1.StatefulSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch us.Type {
	case "":
		return field.ErrorList{field.Required(p, "")}
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			return field.ErrorList{field.Invalid(p.Child("rollingUpdate"), us.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType))}
		}
		return nil
	case appsv1.RollingUpdateStatefulSetStrategyType:
		ru := us.RollingUpdate
		if ru == nil {
			return nil
		}
		rp := p.Child("rollingUpdate")
		errs := validateWorkloadCount(ru.Partition, rp.Child("partition"))
		if ru.MaxUnavailable != nil {
			errs = append(errs, validateWorkloadIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
			errs = append(errs, validateWorkloadAtMost100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
			if workloadIsZero(ru.MaxUnavailable) {
				errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), *ru.MaxUnavailable, "must not be 0"))
			}
		}
		return errs
	}
	return field.ErrorList{field.Invalid(p, *us, fmt.Sprintf("must be '%s' or '%s'",
		appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType))}
}

// validateStatefulSetClaim checks the parts of a claim template a PVC could not be
// created without.
func validateStatefulSetClaim(c *corev1.PersistentVolumeClaim, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	np := p.Child("metadata", "name")
	if c.Name == "" {
		errs = append(errs, field.Required(np, "name or generateName is required"))
	} else {
		errs = append(errs, podNameRule(c.Name, np, statefulSetClaimNameRule)...)
	}
	if len(c.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(p.Child("spec", "accessModes"), "at least 1 access mode is required"))
	}
	if _, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok && c.Spec.DataSource == nil {
		errs = append(errs, field.Required(p.Child("spec", "resources").Key(string(corev1.ResourceStorage)), ""))
	}
	return errs
}

func statefulSetClaimNameRule(name string) []string {
	return apivalidation.NameIsDNSSubdomain(name, false)
}

// validateStatefulSetUpdate: a StatefulSet's identity (selector, service, claims, pod
// management) is fixed; only how many pods and what they run may change.
func validateStatefulSetUpdate(s, old *appsv1.StatefulSetSpec) field.ErrorList {
	m := s.DeepCopy()
	m.Replicas = old.Replicas
	m.Ordinals = old.Ordinals
	m.Template = old.Template
	m.UpdateStrategy = old.UpdateStrategy
	m.RevisionHistoryLimit = old.RevisionHistoryLimit
	m.PersistentVolumeClaimRetentionPolicy = old.PersistentVolumeClaimRetentionPolicy
	m.MinReadySeconds = old.MinReadySeconds
	if !equality.Semantic.DeepEqual(*m, *old) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), statefulSetUpdateForbidden)}
	}
	return nil
}
