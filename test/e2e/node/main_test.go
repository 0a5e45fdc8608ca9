// Package node_test runs real pods through `skiff server`'s own node (containerd,
// runc, CNI) and a second `skiff agent`, driven by the real kubectl.
package node_test

import (
	"fmt"
	"os"
	"testing"

	"skiff/test/e2e/framework"
)

var cluster *framework.Cluster

// ingressPort is the ingress controller's HTTP port on the server's node.
const (
	ingressPort    = "18080"
	ingressTLSPort = "18443"
)

const (
	clusterCIDR = "10.244.0.0/16"
	serviceCIDR = "10.96.0.0/16"
)

func TestMain(m *testing.M) {
	if missing := framework.NodePrerequisites(); missing != "" {
		if framework.InCI() {
			fmt.Fprintln(os.Stderr, "e2e node: prerequisite missing:", missing)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e node: skipping:", missing)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-node-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster, err = framework.StartServer(dir, "--kubelet-port", "0", "--node-name", "e2e-main", "--dns-port", "0",
		"--ingress-http-port", ingressPort, "--ingress-https-port", ingressTLSPort, "--lb-pool", "127.0.0.100-127.0.0.120",
		// Ranges of their own, so other tests' nodes on this machine do not collide.
		"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR,
		// The VPA tests wait for recommendations; the default minute is too slow for them.
		"--vpa-recommender-interval", "5s")
	if err == nil {
		err = cluster.WaitNodeReady("e2e-main")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e node: start server:", err)
		if cluster != nil {
			cluster.Stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	cluster.Cleanup()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e node: logs kept in %s\n", dir)
	}
	os.Exit(code)
}
