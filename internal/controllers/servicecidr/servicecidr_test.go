package servicecidr

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cidr(name string, cidrs ...string) *networkingv1.ServiceCIDR {
	return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
}

func allocated(ip, svc string) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: ip},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: svc}}}
}

// TestBlockingAddress: a ServiceCIDR being deleted is held by an allocated
// address only its range covers; an address another range also covers, or a
// range another ServiceCIDR contains whole, does not hold it (overlapping
// ranges, as Kubernetes allows them).
func TestBlockingAddress(t *testing.T) {
	extra := cidr("extra", "10.201.0.0/28")
	cases := []struct {
		name   string
		others []*networkingv1.ServiceCIDR
		ips    []*networkingv1.IPAddress
		want   string // the blocking address, "" for none
	}{
		{"no address in the range", nil, []*networkingv1.IPAddress{allocated("10.200.0.2", "a")}, ""},
		{"an address only it covers", nil, []*networkingv1.IPAddress{allocated("10.200.0.2", "a"), allocated("10.201.0.9", "b")}, "10.201.0.9"},
		{"its network address is not in its range", nil, []*networkingv1.IPAddress{allocated("10.201.0.0", "b")}, ""},
		{"another range covers the address", []*networkingv1.ServiceCIDR{cidr("wide-part", "10.201.0.8/29")},
			[]*networkingv1.IPAddress{allocated("10.201.0.9", "b")}, ""},
		{"another range covers some addresses only", []*networkingv1.ServiceCIDR{cidr("wide-part", "10.201.0.8/29")},
			[]*networkingv1.IPAddress{allocated("10.201.0.9", "b"), allocated("10.201.0.2", "c")}, "10.201.0.2"},
		{"another ServiceCIDR contains the whole range", []*networkingv1.ServiceCIDR{cidr("wide", "10.201.0.0/16")},
			[]*networkingv1.IPAddress{allocated("10.201.0.0", "b"), allocated("10.201.0.2", "c")}, ""},
	}
	for _, c := range cases {
		all := append([]*networkingv1.ServiceCIDR{extra}, c.others...)
		got := ""
		if b := blockingAddress(extra, all, c.ips); b != nil {
			got = b.Name
		}
		if got != c.want {
			t.Errorf("%s: blocked by %q, want %q", c.name, got, c.want)
		}
	}
}

// TestReadyCondition: ready, except a ServiceCIDR with no IPv4 range: skiff is
// single-stack, and says so.
func TestReadyCondition(t *testing.T) {
	cases := []struct {
		cidrs  []string
		status metav1.ConditionStatus
		single bool // the message says the IPv6 range gives no addresses
	}{
		{[]string{"10.96.0.0/16"}, metav1.ConditionTrue, false},
		{[]string{"10.96.0.0/16", "fd00::/108"}, metav1.ConditionTrue, true},
		{[]string{"fd00::/108"}, metav1.ConditionFalse, true},
	}
	for _, c := range cases {
		got := readyCondition(cidr("x", c.cidrs...))
		if got.Type != networkingv1.ServiceCIDRConditionReady || got.Status != c.status {
			t.Errorf("%v: %s=%s, want Ready=%s", c.cidrs, got.Type, got.Status, c.status)
		}
		if says := strings.Contains(got.Message, "single-stack"); says != c.single {
			t.Errorf("%v: message %q", c.cidrs, got.Message)
		}
	}
}
