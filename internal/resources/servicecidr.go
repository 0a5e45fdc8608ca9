package resources

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceCIDRs and IPAddresses are Kubernetes' objects for Service address
// allocation: cluster IPs come from the ranges of the ServiceCIDRs (the default
// one, "kubernetes", is --service-cidr), and each address in use has an
// IPAddress naming its Service (see ClusterIPs). The objects are validated as
// Kubernetes validates them.
type (
	serviceCIDRStrategy struct{ generic }
	ipAddressStrategy   struct{ generic }
)

func (serviceCIDRStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	sc, ok := obj.(*networkingv1.ServiceCIDR)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	p := field.NewPath("spec", "cidrs")
	switch n := len(sc.Spec.CIDRs); {
	case n == 0:
		errs = append(errs, field.Required(p, "at least one CIDR required"))
	case n > 2:
		errs = append(errs, field.TooMany(p, n, 2))
	case n == 2:
		a, errA := netip.ParsePrefix(sc.Spec.CIDRs[0])
		b, errB := netip.ParsePrefix(sc.Spec.CIDRs[1])
		if errA == nil && errB == nil && a.Addr().Is4() == b.Addr().Is4() {
			errs = append(errs, field.Invalid(p, sc.Spec.CIDRs, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"))
		}
	}
	for i, c := range sc.Spec.CIDRs {
		if pr, err := netip.ParsePrefix(c); err != nil || pr.Masked().String() != c {
			errs = append(errs, field.Invalid(p.Index(i), c, "must be a valid CIDR value in canonical form, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
		}
	}
	if o, ok := old.(*networkingv1.ServiceCIDR); ok {
		// A range in use cannot change under its Services; a second family may be added.
		for i, c := range o.Spec.CIDRs {
			if i >= len(sc.Spec.CIDRs) || sc.Spec.CIDRs[i] != c {
				errs = append(errs, field.Invalid(p, sc.Spec.CIDRs, "field is immutable"))
				break
			}
		}
	}
	return errs
}

func (ipAddressStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ip, ok := obj.(*networkingv1.IPAddress)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, func(name string, _ bool) []string {
		if a, err := netip.ParseAddr(name); err != nil || a.String() != name || a.Zone() != "" {
			return []string{"must be a valid IP address in canonical form, (e.g. 10.9.8.7 or 2001:db8::ffff)"}
		}
		return nil
	})
	ref, p := ip.Spec.ParentRef, field.NewPath("spec", "parentRef")
	if ref == nil {
		return append(errs, field.Required(p, ""))
	}
	if ref.Resource == "" {
		errs = append(errs, field.Required(p.Child("resource"), ""))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if o, ok := old.(*networkingv1.IPAddress); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(ip.Spec.ParentRef, o.Spec.ParentRef, p)...)
	}
	return errs
}
