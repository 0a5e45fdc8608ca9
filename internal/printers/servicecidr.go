package printers

import (
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// addServiceAddresses registers the ranges Service cluster IPs come from and the
// addresses in use, with Kubernetes' columns.
func addServiceAddresses(m map[schema.GroupKind]*Printer) {
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("CIDRs", typeString, networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]),
		ageColumn(),
	}, func(sc *networkingv1.ServiceCIDR, now time.Time) []interface{} {
		return []interface{}{sc.Name, strings.Join(sc.Spec.CIDRs, ","), age(now, sc.CreationTimestamp)}
	}), "networking.k8s.io", "ServiceCIDR")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("ParentRef", typeString, networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]),
	}, func(ip *networkingv1.IPAddress, _ time.Time) []interface{} {
		return []interface{}{ip.Name, parentRefCell(ip.Spec.ParentRef)}
	}), "networking.k8s.io", "IPAddress")
}

// parentRefCell is resource[.group]/[namespace/]name, as kubectl prints it.
func parentRefCell(ref *networkingv1.ParentReference) string {
	if ref == nil {
		return none
	}
	s := strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
	if ref.Namespace != "" {
		s += "/" + ref.Namespace
	}
	return s + "/" + ref.Name
}
