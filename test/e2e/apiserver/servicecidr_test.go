package apiserver_test

import (
	"strings"
	"testing"
)

// TestServiceCIDRAndIPAddressObjects: the default ServiceCIDR names the service
// range; IPAddress objects are named by an IP in canonical form (IPv6 too).
func TestServiceCIDRAndIPAddressObjects(t *testing.T) {
	if got := jsonpath(t, "{.spec.cidrs[0]}", "get", "servicecidr", "kubernetes"); got != "10.43.0.0/16" {
		t.Errorf("default ServiceCIDR = %q, want the server's 10.43.0.0/16", got)
	}
	ip := func(name string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata: {name: \"" + name + "\"}\n" +
			"spec: {parentRef: {group: mygroup, resource: myresources, namespace: foo, name: bar}}\n"
	}
	for _, name := range []string{"255.255.255.255", "fe80::200:5aee:feaa:20a2"} {
		t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "ipaddress", name, "--ignore-not-found") })
		if _, err := cluster.KubectlStdin(ip(name), "create", "-f", "-"); err != nil {
			t.Errorf("IPAddress %s: %v", name, err)
		}
	}
	for _, name := range []string{"fe80:0:0::1", "not-an-ip"} {
		_, err := cluster.KubectlStdin(ip(name), "create", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), "canonical form") {
			t.Errorf("IPAddress %q: %v, want refused as not canonical", name, err)
		}
	}
	_, err := cluster.KubectlStdin("apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: bad}\nspec: {cidrs: [10.0.0.1/8]}\n", "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "spec.cidrs[0]") {
		t.Errorf("a ServiceCIDR with a host address: %v, want refused", err)
	}
}
