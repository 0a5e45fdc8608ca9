package framework

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchNode is one `skiff server` with its own node, shared by the benchmarks of
// a package, and a client fast enough not to be the bottleneck being measured.
type BenchNode struct {
	Cluster *Cluster
	Client  kubernetes.Interface
}

// RunBenchNode is the TestMain of a benchmark package that needs one real node:
// it checks the node prerequisites (a missing one fails in CI), starts the server
// with the node named node on the given pod and Service CIDRs (distinct per
// package, as packages run at once), runs m and stops everything. A failed run
// keeps the server's logs and says where.
func RunBenchNode(m *testing.M, node *BenchNode, name, nodeName, clusterCIDR, serviceCIDR string, extraArgs ...string) int {
	if missing := NodePrerequisites(); missing != "" {
		fmt.Fprintf(os.Stderr, "bench %s: prerequisite missing: %s\n", name, missing)
		if InCI() {
			return 1
		}
		return 0
	}
	dir, err := os.MkdirTemp("", "skiff-bench-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	args := append([]string{"--kubelet-port", "0", "--node-name", nodeName, "--dns-port", "0",
		"--ingress-http-port", "0", "--ingress-https-port", "0",
		"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR}, extraArgs...)
	if err := node.start(dir, nodeName, args); err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: start server: %v\n", name, err)
		if node.Cluster != nil {
			node.Cluster.Stop()
			node.Cluster.Cleanup()
		}
		return 1
	}
	code := m.Run()
	node.Cluster.Stop()
	node.Cluster.Cleanup()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "bench %s: logs kept in %s\n", name, dir)
	}
	return code
}

func (n *BenchNode) start(dir, nodeName string, args []string) error {
	cluster, err := StartServer(dir, args...)
	n.Cluster = cluster
	if err != nil {
		return err
	}
	if err := cluster.WaitNodeReady(nodeName); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	n.Client, err = kubernetes.NewForConfig(cfg)
	return err
}
