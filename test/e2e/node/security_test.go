package node_test

import (
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"skiff/test/e2e/framework"
)

// TestServerListensOnlyOnDocumentedPorts: a server with its own node opens the API,
// kubelet, DNS and ingress ports and nothing else; etcd in particular has none.
func TestServerListensOnlyOnDocumentedPorts(t *testing.T) {
	server := strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{u.Port(): "API", ingressPort: "ingress HTTP", ingressTLSPort: "ingress HTTPS"}
	documented[cluster.MustKubectl(t, "get", "node", "e2e-main", "-o", "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}")] = "kubelet"
	for _, p := range strings.Fields(cluster.MustKubectl(t, "-n", "kube-system", "get", "endpointslices", "-l", "kubernetes.io/service-name=kube-dns",
		"-o", "jsonpath={range .items[*].ports[*]}{.port} {end}")) {
		if _, err := strconv.Atoi(p); err == nil {
			documented[p] = "DNS"
		}
	}
	ports, err := framework.ListeningTCPPorts(cluster.PID())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if _, ok := documented[strconv.Itoa(p)]; !ok {
			t.Errorf("skiff server listens on TCP port %d, which is none of the documented ones %v", p, documented)
		}
	}
	t.Logf("listening: %v (documented: %v)", ports, documented)
}

// TestAgentResetDeletesProxyTable: `skiff agent reset` removes the service proxy's
// nftables table an agent killed with SIGKILL leaves behind, DNAT rules and all.
func TestAgentResetDeletesProxyTable(t *testing.T) {
	const table = "skiff-proxy-e2e-gone"
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "ip", table).Run() })
	for _, cmd := range [][]string{
		{"add", "table", "ip", table},
		{"add", "chain", "ip", table, "services", "{ type nat hook prerouting priority -100; }"},
		{"add", "rule", "ip", table, "services", "ip daddr 10.96.0.99 tcp dport 80 dnat to 10.244.99.2:80"},
	} {
		if out, err := exec.Command("nft", cmd...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v\n%s", cmd, err, out)
		}
	}
	bin, err := framework.Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(bin, "agent", "reset", "--data-dir", dir, "--node-name", "e2e-gone").CombinedOutput(); err != nil {
		t.Fatalf("agent reset: %v\n%s", err, out)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
		t.Fatalf("table %s survived agent reset:\n%s", table, out)
	}
}
