package resources

import (
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var nodeTaintEffects = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}

const nodeCIDRChangeMsg = "node updates may not change podCIDR except from \"\" to valid"

// Default keeps the singular podCIDR and the list in step (the singular field is
// what older clients read), and starts allocatable at capacity.
func (nodeStrategy) Default(obj runtime.Object) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) == 0 {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if n.Spec.PodCIDR == "" && len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

// PrepareForCreate keeps status: the node agent registers its Node with capacity,
// addresses and conditions already filled in.
func (nodeStrategy) PrepareForCreate(runtime.Object) {}

func (nodeStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	// Kubernetes reports taint errors under metadata.taints; kept for parity.
	errs = append(errs, validateNodeTaints(n.Spec.Taints, field.NewPath("metadata", "taints"))...)
	errs = append(errs, validateNodeResources(n.Status.Capacity, field.NewPath("status", "capacity"))...)
	errs = append(errs, validateNodeResources(n.Status.Allocatable, field.NewPath("status", "allocatable"))...)
	errs = append(errs, validateNodePodCIDRs(n.Spec.PodCIDRs)...)
	oldN, ok := old.(*corev1.Node)
	if !ok {
		return errs
	}
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	// The IPAM controller assigns the CIDR once; routes and the CNI config on the
	// node are built from it, so it may not move afterwards.
	if len(oldN.Spec.PodCIDRs) > 0 && !slices.Equal(oldN.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), nodeCIDRChangeMsg))
	}
	if oldN.Spec.ProviderID != "" && oldN.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if n.Spec.DoNotUseExternalID != oldN.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

func validateNodeTaints(taints []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		tp := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(tp.Child("value"), t.Value, msg))
		}
		switch {
		case t.Effect == "":
			errs = append(errs, field.Required(tp.Child("effect"), ""))
		case !slices.Contains(nodeTaintEffects, t.Effect):
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, nodeTaintEffects))
		}
		if seen[t.Effect].Has(t.Key) {
			dup := field.Duplicate(tp, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = sets.New[string]()
		}
		seen[t.Effect].Insert(t.Key)
	}
	return errs
}

func validateNodeResources(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range list {
		errs = append(errs, validateQuantityNonNegative(q, p.Key(string(name)))...)
	}
	return errs
}

// validateQuantityNonNegative is shared by the kinds that carry resource lists.
func validateQuantityNonNegative(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

func validateNodePodCIDRs(cidrs []string) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "podCIDRs")
	for i, c := range cidrs {
		if _, _, err := net.ParseCIDR(c); err != nil {
			errs = append(errs, field.Invalid(p.Index(i), cidrs, "must be valid CIDR"))
		}
	}
	if len(errs) > 0 || len(cidrs) < 2 {
		return errs
	}
	families := sets.New[bool]()
	for _, c := range cidrs {
		ip, _, _ := net.ParseCIDR(c)
		families.Insert(ip.To4() != nil)
	}
	if len(cidrs) > 2 || families.Len() != 2 {
		errs = append(errs, field.Invalid(p, cidrs, "may specify no more than one CIDR for each IP family"))
	}
	return errs
}

func (nodeStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	if n, ok := obj.(*corev1.Node); ok {
		set["spec.unschedulable"] = strconv.FormatBool(n.Spec.Unschedulable)
	}
	return set
}
