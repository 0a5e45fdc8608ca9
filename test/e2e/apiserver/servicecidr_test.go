package apiserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
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

// TestServiceCIDRExtendsTheServiceRange is the session of a user whose Service
// range is full: on a server of its own with a /29 (six addresses, the API
// server's kubernetes Service holds the first), the sixth Service is refused
// with "range is full"; a ServiceCIDR applied with kubectl gives the next
// Service an address from the new range, which `kubectl get ipaddress` shows
// held by that Service; an address reserved by a hand-made IPAddress is
// refused to a Service that asks for it; and the new ServiceCIDR, deleted while
// a Service uses it, stays Terminating until that Service is gone.
func TestServiceCIDRExtendsTheServiceRange(t *testing.T) {
	dir := t.TempDir()
	c, err := framework.StartServer(dir, "--disable-agent", "--service-cidr", "10.200.0.0/29")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	for i := 1; i <= 5; i++ {
		c.MustKubectl(t, "create", "service", "clusterip", fmt.Sprintf("s%d", i), "--tcp=80")
	}
	_, err = c.Kubectl("create", "service", "clusterip", "more", "--tcp=80")
	if err == nil || !strings.Contains(err.Error(), "range is full") || !strings.Contains(err.Error(), "spec.clusterIPs") {
		t.Fatalf("a sixth Service in a /29: %v, want refused on spec.clusterIPs: range is full", err)
	}

	// Applying the ServiceCIDR brings no warning: it acts.
	extra := "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: extra}\nspec: {cidrs: [10.201.0.0/28]}\n"
	c.MustKubectl(t, "--warnings-as-errors", "apply", "-f", writeFile(t, dir, "extra.yaml", extra))
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := c.Kubectl("get", "servicecidr", "extra", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status} {.metadata.finalizers}")
		if err != nil || out != "True [\"networking.k8s.io/service-cidr-finalizer\"]" {
			return fmt.Errorf("ServiceCIDR extra: %q %v, want Ready and the finalizer", out, err)
		}
		return nil
	})
	c.MustKubectl(t, "create", "service", "clusterip", "more", "--tcp=80")
	ip := c.MustKubectl(t, "get", "service", "more", "-o", "jsonpath={.spec.clusterIP}")
	if !strings.HasPrefix(ip, "10.201.0.") {
		t.Fatalf("the Service after the range was extended got %q, want an address of 10.201.0.0/28", ip)
	}
	out := c.MustKubectl(t, "get", "ipaddress", ip)
	if !strings.Contains(out, "PARENTREF") || !strings.Contains(out, "services/default/more") {
		t.Errorf("kubectl get ipaddress %s:\n%s\nwant it held by services/default/more", ip, out)
	}

	reserved := "10.201.0.3"
	if ip == reserved {
		reserved = "10.201.0.4"
	}
	c.MustKubectl(t, "--warnings-as-errors", "apply", "-f", writeFile(t, dir, "reserved.yaml",
		"apiVersion: networking.k8s.io/v1\nkind: IPAddress\nmetadata: {name: \""+reserved+"\"}\n"+
			"spec: {parentRef: {group: example.com, resource: gateways, namespace: default, name: edge}}\n"))
	_, err = c.Kubectl("create", "service", "clusterip", "wants-reserved", "--tcp=80", "--clusterip="+reserved)
	if err == nil || !strings.Contains(err.Error(), "spec.clusterIPs") || !strings.Contains(err.Error(), "already allocated") {
		t.Errorf("a Service asking for the reserved %s: %v, want refused on spec.clusterIPs as already allocated", reserved, err)
	}

	c.MustKubectl(t, "delete", "servicecidr", "extra", "--wait=false")
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := c.Kubectl("get", "servicecidr", "extra", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].reason}")
		if err != nil || out != "Terminating" {
			return fmt.Errorf("ServiceCIDR extra while Service more uses it: reason %q (%v), want Terminating", out, err)
		}
		return nil
	})
	time.Sleep(12 * time.Second) // past the grace a free ServiceCIDR is kept after its deletion
	if _, err := c.Kubectl("get", "servicecidr", "extra"); err != nil {
		t.Fatalf("ServiceCIDR extra went while a Service uses it: %v", err)
	}
	c.MustKubectl(t, "delete", "service", "more")
	framework.Eventually(t, 30*time.Second, func() error {
		if out, err := c.Kubectl("get", "servicecidr,ipaddress", "-o", "name"); err != nil || strings.Contains(out, "servicecidr.networking.k8s.io/extra") || strings.Contains(out, "/"+ip+"\n") {
			return fmt.Errorf("after its Service was deleted:\n%s(%v)\nwant ServiceCIDR extra and IPAddress %s gone", out, err, ip)
		}
		return nil
	})
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
