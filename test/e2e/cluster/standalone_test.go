package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestStandaloneControlPlane runs the scheduler and the controllers as their own
// processes against a server that runs neither: two schedulers share the
// kube-scheduler Lease, exactly one schedules, and when it dies the other takes
// over. It needs a server of its own, since the package's cluster runs both.
func TestStandaloneControlPlane(t *testing.T) {
	base := filepath.Join(dir, "standalone")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := framework.StartServer(base, "--disable-agent", "--disable-scheduler", "--disable-controllers")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	start := func(name string, args ...string) *framework.Process {
		p, err := srv.StartSkiff(filepath.Join(base, name+".log"), append(args, "--kubeconfig", srv.Kubeconfig)...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sim := start("simulate", "simulate", "--nodes", "3", "--name-prefix", "ha-", "--pod-cidr", "10.70.0.0/16")
	defer sim.Stop()
	cm := start("controller-manager", "controller-manager", "--leader-elect")
	defer cm.Stop()
	scheds := map[string]*framework.Process{}
	for _, name := range []string{"scheduler-a", "scheduler-b"} {
		p := start(name, "scheduler", "--leader-elect")
		defer p.Stop()
		scheds[name] = p
	}
	for i := range 3 {
		if err := srv.WaitNodeReady(fmt.Sprintf("ha-%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	srv.MustKubectl(t, "create", "deployment", "web", "--image=pause", "--replicas=3")
	waitBound(t, srv, 3)
	leader := leaseLeader(t, srv, base, scheds)
	t.Logf("leader: %s", leader)

	scheds[leader].Kill()
	delete(scheds, leader)
	srv.MustKubectl(t, "scale", "deployment", "web", "--replicas=6")
	waitBound(t, srv, 6)
	if next := leaseLeader(t, srv, base, scheds); next == leader {
		t.Fatalf("lease still held by the killed scheduler %s", leader)
	}
}

// waitBound waits until the Deployment has n pods, each bound to a node.
func waitBound(t *testing.T, c *framework.Cluster, n int) {
	t.Helper()
	framework.Eventually(t, 90*time.Second, func() error {
		out, err := c.Kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
		if err != nil {
			return err
		}
		bound := 0
		for _, node := range strings.Fields(out) {
			if strings.HasPrefix(node, "ha-") {
				bound++
			}
		}
		if bound != n {
			return fmt.Errorf("%d of %d pods bound:\n%s", bound, n, out)
		}
		return nil
	})
}

// leaseLeader returns which of the running schedulers holds the kube-scheduler
// Lease, by matching its holder identity against each scheduler's log, and checks
// that only that one says it leads.
func leaseLeader(t *testing.T, c *framework.Cluster, base string, scheds map[string]*framework.Process) string {
	t.Helper()
	var leader string
	framework.Eventually(t, 60*time.Second, func() error {
		holder, err := c.Kubectl("get", "lease", "-n", "kube-system", "kube-scheduler", "-o", "jsonpath={.spec.holderIdentity}")
		if err != nil {
			return err
		}
		leader = ""
		var leading []string
		for name := range scheds {
			log, _ := os.ReadFile(filepath.Join(base, name+".log"))
			if holder != "" && strings.Contains(string(log), "msg=leading") && strings.Contains(string(log), "identity="+holder) {
				leading = append(leading, name)
			}
		}
		if len(leading) != 1 {
			return fmt.Errorf("lease holder %q: want exactly one leading scheduler, have %v", holder, leading)
		}
		leader = leading[0]
		return nil
	})
	return leader
}
