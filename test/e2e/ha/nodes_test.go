package ha_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// The failure-table rows that need nodes: two agents on this machine join the
// three servers (through s1, the server they then use) the first time a test
// asks for them, and stay for the rest of the package.

const (
	clusterCIDR = "10.42.0.0/16" // the servers' default
	toolbox     = "skiff.local/toolbox"
	agent1      = "ha-a1"
	agent2      = "ha-a2"
)

var (
	agentsOnce sync.Once
	agentsDir  string
	agentsErr  error
	agents     = map[string]*framework.Agent{}
)

// startAgents returns the two agents, starting them on first use.
func startAgents(t *testing.T) map[string]*framework.Agent {
	t.Helper()
	framework.Require(t, framework.NodePrerequisites() == "", "nodes need "+framework.NodePrerequisites())
	agentsOnce.Do(func() {
		if agentsDir, agentsErr = os.MkdirTemp("", "skiff-e2e-ha-agents-"); agentsErr != nil {
			return
		}
		for _, name := range []string{agent1, agent2} {
			a, err := servers[0].StartAgent(agentsDir, name, "--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR)
			if err != nil {
				agentsErr = fmt.Errorf("agent %s: %w", name, err)
				return
			}
			agents[name] = a
		}
	})
	if agentsErr != nil {
		t.Fatal(agentsErr)
	}
	return agents
}

// stopAgents stops the agents and removes their pods and network.
func stopAgents() {
	for _, a := range agents {
		a.Stop()
		a.Reset()
	}
	if agentsDir != "" {
		os.RemoveAll(agentsDir)
	}
}

// kubectl runs kubectl through the first live server.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	var out string
	framework.Eventually(t, 30*time.Second, func() error {
		var err error
		for _, s := range servers {
			if out, err = s.Kubectl(args...); err == nil {
				return nil
			}
		}
		return err
	})
	return out
}

func nsFor(t *testing.T, name string) string {
	t.Helper()
	kubectl(t, "create", "namespace", name)
	t.Cleanup(func() { _, _ = servers[1].Kubectl("delete", "namespace", name, "--wait=false") })
	return name
}

// runPod starts a pod on node running the toolbox with args, and waits until it runs.
func runPod(t *testing.T, ns, name, node string, args ...string) {
	t.Helper()
	overrides := fmt.Sprintf(`{"spec":{"nodeName":%q,"tolerations":[{"operator":"Exists"}]}}`, node)
	kubectl(t, append([]string{"-n", ns, "run", name, "--image=" + toolbox, "--overrides", overrides, "--"}, args...)...)
	waitPod(t, ns, name, "{.status.phase}", "Running", 90*time.Second)
}

func podField(ns, name, path string) string {
	for _, s := range servers {
		if out, err := s.Kubectl("-n", ns, "get", "pod", name, "-o", "jsonpath="+path); err == nil {
			return out
		}
	}
	return ""
}

func waitPod(t *testing.T, ns, name, path, want string, within time.Duration) {
	t.Helper()
	framework.Eventually(t, within, func() error {
		if got := podField(ns, name, path); got != want {
			return fmt.Errorf("pod %s %s = %q, want %q", name, path, got, want)
		}
		return nil
	})
}

// containers is a pod's container IDs and restart counts, to compare before
// and after a failure.
func containers(ns, name string) string {
	return podField(ns, name, "{range .status.containerStatuses[*]}{.containerID}/{.restartCount} {end}")
}

// nodeReady is the node's Ready condition status.
func nodeReady(name string) string {
	for _, s := range servers {
		if out, err := s.Kubectl("get", "node", name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); err == nil {
			return out
		}
	}
	return ""
}

// TestAgentsFailOverWhenTheirServerDies: the seeds' "API server down". The
// agents reach the servers through s1; s1 is killed. kubectl through s2 keeps
// working, each agent moves to another server within 10 s (its log says so and
// its node Lease is renewed), the nodes stay Ready, and the running pods are
// not restarted.
func TestAgentsFailOverWhenTheirServerDies(t *testing.T) {
	ags := startAgents(t)
	ns := nsFor(t, "apiserver-down")
	before := map[string]string{}
	for _, node := range []string{agent1, agent2} {
		runPod(t, ns, "steady-"+node, node, "/toolbox", "sleep", "infinity")
		before[node] = containers(ns, "steady-"+node)
	}
	logged := map[string]int{}
	for name, a := range ags {
		data, _ := os.ReadFile(a.LogPath)
		logged[name] = strings.Count(string(data), "API server switched")
	}
	servers[0].kill()
	killed := time.Now()
	t.Cleanup(func() {
		if err := servers[0].revive(); err != nil {
			t.Fatal(err)
		}
	})
	// A read waits (up to 3 s) while etcd elects a new leader (when s1 led it).
	framework.Eventually(t, 5*time.Second, func() error {
		_, err := servers[1].Kubectl("-n", ns, "get", "pods")
		return err
	})
	t.Logf("kubectl through s2 answered %.1fs after s1 was killed", time.Since(killed).Seconds())
	took := map[string]time.Duration{}
	framework.Eventually(t, 10*time.Second, func() error {
		for name, a := range ags {
			data, _ := os.ReadFile(a.LogPath)
			if _, done := took[name]; !done && strings.Count(string(data), "API server switched") > logged[name] {
				took[name] = time.Since(killed)
			}
		}
		if len(took) < len(ags) {
			return fmt.Errorf("agents that switched servers: %v", took)
		}
		return nil
	})
	for name, d := range took {
		t.Logf("%s switched to another server %.1fs after s1 was killed", name, d.Seconds())
	}
	// The Lease is renewed every 10 s: one renewal after the kill proves the
	// node reaches the API through another server.
	framework.Eventually(t, 20*time.Second, func() error {
		for _, node := range []string{agent1, agent2} {
			out, err := servers[1].Kubectl("-n", "kube-node-lease", "get", "lease", node, "-o", "jsonpath={.spec.renewTime}")
			if err != nil {
				return err
			}
			renewed, err := time.Parse(time.RFC3339Nano, out)
			if err != nil {
				return err
			}
			if !renewed.After(killed) {
				return fmt.Errorf("%s's Lease last renewed at %s, before the kill", node, out)
			}
		}
		return nil
	})
	for _, node := range []string{agent1, agent2} {
		if r := nodeReady(node); r != "True" {
			t.Errorf("node %s Ready=%s after its server died", node, r)
		}
		if got := containers(ns, "steady-"+node); got != before[node] {
			t.Errorf("pod on %s: containers %s before the kill, %s after", node, before[node], got)
		}
	}
}

// TestAgentDown: the seeds' "kubelet down". ha-a1 is killed. Its node turns
// NotReady; the Deployment's pod there, tolerating unreachable for 2 s, is
// evicted and replaced on ha-a2; a bare pod that tolerates it stays. When the
// agent comes back it adopts that pod's running container without restarting
// it, and finishes the evicted pod.
func TestAgentDown(t *testing.T) {
	ags := startAgents(t)
	ns := nsFor(t, "agent-down")
	runPod(t, ns, "keeper", agent1, "/toolbox", "sleep", "infinity")
	keeper := containers(ns, "keeper")
	// Cordoning ha-a2 places the Deployment's pod on ha-a1.
	kubectl(t, "cordon", agent2)
	uncordoned := false
	uncordon := func() {
		if !uncordoned {
			kubectl(t, "uncordon", agent2)
			uncordoned = true
		}
	}
	t.Cleanup(uncordon)
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: evictable}
spec:
  replicas: 1
  selector: {matchLabels: {app: evictable}}
  template:
    metadata: {labels: {app: evictable}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: c, image: ` + toolbox + `, command: [/toolbox, sleep, infinity]}
`
	if _, err := servers[1].KubectlStdin(manifest, "-n", ns, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	var first string
	framework.Eventually(t, 90*time.Second, func() error {
		out := kubectl(t, "-n", ns, "get", "pods", "-l", "app=evictable", "--field-selector", "status.phase=Running", "-o", "jsonpath={range .items[*]}{.metadata.name}@{.spec.nodeName} {end}")
		if f := strings.Fields(out); len(f) == 1 && strings.HasSuffix(f[0], "@"+agent1) {
			first = strings.TrimSuffix(f[0], "@"+agent1)
			return nil
		}
		return fmt.Errorf("evictable pods running: %q, want one on %s", out, agent1)
	})
	uncordon()

	ags[agent1].Kill()
	killed := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = ags[agent1].Restart()
		}
	})
	framework.Eventually(t, 70*time.Second, func() error {
		if r := nodeReady(agent1); r == "True" {
			return fmt.Errorf("node %s still Ready", agent1)
		}
		return nil
	})
	t.Logf("agent killed -> node %s not Ready after %.1fs (node-monitor grace period 40s)", agent1, time.Since(killed).Seconds())
	var replacement string
	framework.Eventually(t, 60*time.Second, func() error {
		out := kubectl(t, "-n", ns, "get", "pods", "-l", "app=evictable", "--field-selector", "status.phase=Running", "-o", "jsonpath={range .items[*]}{.metadata.name}@{.spec.nodeName} {end}")
		for _, f := range strings.Fields(out) {
			if name, ok := strings.CutSuffix(f, "@"+agent2); ok && name != first {
				replacement = name
				return nil
			}
		}
		return fmt.Errorf("evictable pods running: %q, want a replacement on %s", out, agent2)
	})
	t.Logf("agent killed -> replacement %s running on %s after %.1fs", replacement, agent2, time.Since(killed).Seconds())
	if out, err := servers[1].Kubectl("-n", ns, "get", "pod", first, "-o", "jsonpath={.metadata.deletionTimestamp}"); err == nil && out == "" {
		t.Errorf("evicted pod %s is not being deleted", first)
	}

	if err := ags[agent1].Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	time.Sleep(5 * time.Second) // let the agent relist and report
	if got := containers(ns, "keeper"); got != keeper {
		t.Errorf("keeper's containers %s before the agent died, %s after it came back", keeper, got)
	}
	framework.Eventually(t, 60*time.Second, func() error {
		if _, err := servers[1].Kubectl("-n", ns, "get", "pod", first); err == nil {
			return fmt.Errorf("evicted pod %s still exists after its agent came back", first)
		}
		return nil
	})
}

// TestProxyAndDNSHeal: the seeds' "kube-proxy / DNS down" on ha-a1. Its proxy
// table is deleted: it is rebuilt within seconds, and the Service answers by
// name from pods on both nodes. Its agent (proxy and DNS server) is stopped:
// its DNS endpoint leaves kube-dns and names keep resolving from ha-a2; when it
// comes back its DNS endpoint returns and names work from ha-a1 again.
// (Both nodes share this machine's network namespace, so the other node's rules
// also carry ha-a1's pods' traffic while its table is gone.)
func TestProxyAndDNSHeal(t *testing.T) {
	ags := startAgents(t)
	ns := nsFor(t, "proxy-dns")
	runPod(t, ns, "web", agent2, "/toolbox", "serve", "--port", "8080")
	kubectl(t, "-n", ns, "expose", "pod", "web", "--port", "80", "--target-port", "8080")
	for _, node := range []string{agent1, agent2} {
		runPod(t, ns, "client-"+node, node, "/toolbox", "sleep", "infinity")
	}
	url := "http://web." + ns + ".svc.cluster.local/hostname"
	reaches := func(node string) error {
		out, err := servers[1].Kubectl("-n", ns, "exec", "client-"+node, "--", "/toolbox", "wget", "-qO-", "-T", "2", url)
		if err != nil || !strings.Contains(out, "web") {
			return fmt.Errorf("from %s: %q %v", node, out, err)
		}
		return nil
	}
	for _, node := range []string{agent1, agent2} {
		framework.Eventually(t, 30*time.Second, func() error { return reaches(node) })
	}

	table := "skiff-proxy-" + agent1
	if out, err := exec.Command("nft", "delete", "table", "ip", table).CombinedOutput(); err != nil {
		t.Fatalf("nft delete table: %v %s", err, out)
	}
	deleted := time.Now()
	framework.Eventually(t, 15*time.Second, func() error {
		return exec.Command("nft", "list", "table", "ip", table).Run()
	})
	t.Logf("proxy table of %s deleted -> rebuilt after %.1fs", agent1, time.Since(deleted).Seconds())
	for _, node := range []string{agent1, agent2} {
		framework.Eventually(t, 10*time.Second, func() error { return reaches(node) })
	}

	dnsSlices := func() string {
		out, _ := servers[1].Kubectl("-n", "kube-system", "get", "endpointslices", "-o", "name")
		return out
	}
	ags[agent1].Stop()
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = ags[agent1].Restart()
		}
	})
	if strings.Contains(dnsSlices(), agent1) {
		t.Errorf("%s's DNS endpoint still published after its agent stopped:\n%s", agent1, dnsSlices())
	}
	// Clients resolve through the DNS Service, whose rules drop the stopped node's
	// server only once its endpoint leaves: give that and the resolver's retries time.
	framework.Eventually(t, 30*time.Second, func() error {
		err := reaches(agent2)
		if err != nil && strings.Contains(err.Error(), "no such host") {
			// Which DNS server forgot the name: ask each published one directly.
			err = fmt.Errorf("%w\n%s", err, askDNSServers("web."+ns+".svc.cluster.local."))
		}
		return err
	})
	client := containers(ns, "client-"+agent1)
	if err := ags[agent1].Restart(); err != nil {
		t.Fatal(err)
	}
	stopped = false
	time.Sleep(5 * time.Second) // let the agent relist and report
	framework.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(dnsSlices(), agent1) {
			return fmt.Errorf("%s's DNS endpoint not published again", agent1)
		}
		return reaches(agent1)
	})
	if got := containers(ns, "client-"+agent1); got != client {
		t.Errorf("client on %s: containers %s before the agent restart, %s after", agent1, client, got)
	}
}

// askDNSServers resolves name at every node DNS server published in kube-system's
// EndpointSlices, and says what each answered.
func askDNSServers(name string) string {
	out, _ := servers[1].Kubectl("-n", "kube-system", "get", "endpointslices", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.endpoints[0].addresses[0]} {.ports[?(@.protocol=="UDP")].port}{"\n"}{end}`)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		addr := net.JoinHostPort(f[1], f[2])
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", addr)
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ips, err := r.LookupHost(ctx, name)
		cancel()
		fmt.Fprintf(&b, "%s at %s: %v %v\n", f[0], addr, ips, err)
	}
	return b.String()
}
