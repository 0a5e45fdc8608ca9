package printers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestServiceCIDRAndIPAddress: the ranges with their CIDRs; each address with
// the object holding it, as kubectl shows them against Kubernetes.
func TestServiceCIDRAndIPAddress(t *testing.T) {
	sc := &networkingv1.ServiceCIDR{ObjectMeta: meta("extra"), Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/28", "fd00::/120"}}}
	got := rowOf(t, schema.GroupKind{Group: "networking.k8s.io", Kind: "ServiceCIDR"}, sc)
	if diff := cmp.Diff([]interface{}{"extra", "10.96.0.0/28,fd00::/120", "10m"}, got); diff != "" {
		t.Errorf("ServiceCIDR row (-want +got):\n%s", diff)
	}
	gk := schema.GroupKind{Group: "networking.k8s.io", Kind: "IPAddress"}
	cases := []struct {
		ref  *networkingv1.ParentReference
		want string
	}{
		{&networkingv1.ParentReference{Resource: "services", Namespace: "web", Name: "front"}, "services/web/front"},
		{&networkingv1.ParentReference{Group: "gateway.networking.k8s.io", Resource: "gateways", Name: "gw"}, "gateways.gateway.networking.k8s.io/gw"},
		{nil, "<none>"},
	}
	for _, c := range cases {
		ip := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.5"}, Spec: networkingv1.IPAddressSpec{ParentRef: c.ref}}
		if diff := cmp.Diff([]interface{}{"10.96.0.5", c.want}, rowOf(t, gk, ip)); diff != "" {
			t.Errorf("IPAddress row (-want +got):\n%s", diff)
		}
	}
}
