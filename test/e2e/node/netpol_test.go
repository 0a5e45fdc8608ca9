package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// serverPod runs the toolbox HTTP server on 8080, naming the port "http" when named.
func serverPod(name, node string, named bool, labels string) string {
	port := "- containerPort: 8080"
	if named {
		port = "- {name: http, containerPort: 8080}"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:
  nodeName: %s
  containers:
  - name: web
    image: %s
    command: ["/toolbox", "serve", "--port", "8080"]
    ports:
    %s
---
`, name, labels, node, toolbox, port)
}

func clientPod(name, labels string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:
  nodeName: e2e-main
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: %s, command: ["sleep", "3600"]}
---
`, name, labels, toolbox)
}

// fetch asks for url's /hostname from a client pod and reports whether the answer
// came from the expected pod.
func fetch(n, client, url, want string) error {
	out, err := execOut(n, client, "", "/toolbox", "wget", "-qO-", "-T", "2", url+"/hostname")
	if err != nil || !strings.Contains(out, want) {
		return fmt.Errorf("%s could not reach %s: %q %v", client, url, strings.TrimSpace(out), err)
	}
	return nil
}

func eventuallyReaches(t *testing.T, n, client, url, want string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, func() error { return fetch(n, client, url, want) })
}

func eventuallyBlocked(t *testing.T, n, client, url string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, func() error {
		if err := fetch(n, client, url, ""); err == nil {
			return fmt.Errorf("%s still reaches %s", client, url)
		}
		return nil
	})
}

// TestNetworkPolicies walks through what a user of the seeds does with network
// policies, on two nodes: the server on e2e-np, its clients on e2e-main.
func TestNetworkPolicies(t *testing.T) {
	startSecondAgent(t, "e2e-np")
	srv, cli := ns(t, "np-server"), ns(t, "np-client")
	apply(t, srv, serverPod("web", "e2e-np", true, "app: web"))
	apply(t, cli, clientPod("allowed", "role: client")+clientPod("denied", "role: other")+
		clientPod("eg", "role: client, egress: limited")+
		serverPod("web2", "e2e-np", true, "app: web2")+serverPod("web3", "e2e-main", false, "app: web3"))
	cluster.MustKubectl(t, "-n", srv, "expose", "pod", "web", "--port=80", "--target-port=8080")
	webIP, web2IP, web3IP := running(t, srv, "web"), running(t, cli, "web2"), running(t, cli, "web3")
	for _, p := range []string{"allowed", "denied", "eg"} {
		running(t, cli, p)
	}
	svcIP := strings.TrimSpace(cluster.MustKubectl(t, "-n", srv, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	byIP, bySvc := "http://"+webIP+":8080", "http://"+svcIP
	for _, c := range []string{"allowed", "denied"} {
		eventuallyReaches(t, cli, c, byIP, "web")
		eventuallyReaches(t, cli, c, bySvc, "web")
	}

	t.Run("deny-all blocks pods and the Service", func(t *testing.T) {
		apply(t, srv, `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`)
		for _, c := range []string{"allowed", "denied"} {
			eventuallyBlocked(t, cli, c, byIP)
			eventuallyBlocked(t, cli, c, bySvc)
		}
	})

	t.Run("an allow rule by namespace and pod labels lets exactly its client in", func(t *testing.T) {
		apply(t, srv, fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}
      podSelector: {matchLabels: {role: client}}
    ports:
    - port: http
`, cli))
		eventuallyReaches(t, cli, "allowed", byIP, "web")
		eventuallyReaches(t, cli, "allowed", bySvc, "web")
		if err := fetch(cli, "denied", bySvc, "web"); err == nil {
			t.Errorf("the pod labelled role=other reaches the Service")
		}
		why, err := cluster.Skiff("why", "-n", cli, "denied", "--to", srv+"/web")
		if err != nil || !strings.Contains(why, "may NOT") || !strings.Contains(why, "ingress to "+srv+"/web: DROPPED") ||
			!strings.Contains(why, "allow-client") {
			t.Errorf("skiff why for the denied client: %v\n%s", err, why)
		}
		why, err = cluster.Skiff("why", "-n", cli, "allowed", "--to", srv+"/web")
		if err != nil || !strings.Contains(why, "allowed by NetworkPolicy "+srv+"/allow-client") {
			t.Errorf("skiff why for the allowed client: %v\n%s", err, why)
		}
		out := cluster.MustKubectl(t, "-n", srv, "describe", "networkpolicy", "allow-client")
		for _, want := range []string{"PodSelector:     app=web", "role=client", "Allowing ingress traffic", "http/TCP"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("relabelling a pod changes what it reaches", func(t *testing.T) {
		cluster.MustKubectl(t, "-n", cli, "label", "pod", "denied", "role=client", "--overwrite")
		eventuallyReaches(t, cli, "denied", byIP, "web")
		cluster.MustKubectl(t, "-n", cli, "label", "pod", "allowed", "role=other", "--overwrite")
		eventuallyBlocked(t, cli, "allowed", byIP)
	})

	t.Run("egress by ipBlock and named port, and DNS only when allowed", func(t *testing.T) {
		eventuallyReaches(t, cli, "eg", "http://web."+srv, "web") // DNS works before
		apply(t, cli, fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-http}
spec:
  podSelector: {matchLabels: {egress: limited}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: %s, except: [%s/32]}
    ports:
    - port: http
`, clusterCIDR, web2IP))
		eventuallyBlocked(t, cli, "eg", "http://web."+srv)
		eventuallyReaches(t, cli, "eg", byIP, "web")
		for _, url := range []string{"http://" + web2IP + ":8080", "http://" + web3IP + ":8080"} {
			if err := fetch(cli, "eg", url, "web"); err == nil {
				t.Errorf("eg reaches %s, outside its egress policy", url)
			}
		}
		if err := fetch(cli, "allowed", "http://"+web3IP+":8080", "web3"); err != nil {
			t.Errorf("a pod no egress policy selects: %v", err)
		}
		apply(t, cli, allowDNS)
		eventuallyReaches(t, cli, "eg", "http://web."+srv, "web")
	})
}

// allowDNS is the README's policy: every pod of the namespace may ask the cluster DNS.
const allowDNS = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
`

// TestNetworkPolicyBadInput: invalid CIDRs and port names are refused with the
// field named, and nothing is stored; a port name no pod has is accepted (it
// matches nothing, as in Kubernetes).
func TestNetworkPolicyBadInput(t *testing.T) {
	n := ns(t, "np-bad")
	policy := func(name, peer, port string) string {
		return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: %s}
spec:
  podSelector: {}
  ingress:
  - from: [%s]
    ports: [{port: %s}]
`, name, peer, port)
	}
	for _, tt := range []struct{ name, peer, port, want string }{
		{"cidr", "{ipBlock: {cidr: 10.0.0.0/33}}", "80", "spec.ingress[0].from[0].ipBlock.cidr: Invalid value"},
		{"except", "{ipBlock: {cidr: 10.0.0.0/16, except: [192.168.0.0/24]}}", "80", "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value"},
		{"port-name", "{podSelector: {}}", "Not_A_Name", "spec.ingress[0].ports[0].port: Invalid value"},
	} {
		_, err := cluster.KubectlStdin(policy("bad-"+tt.name, tt.peer, tt.port), "-n", n, "apply", "-f", "-")
		if out := fmt.Sprint(err); err == nil || !strings.Contains(out, tt.want) || !strings.Contains(out, "is invalid") {
			t.Errorf("%s: want a 422 naming %q, got %v", tt.name, tt.want, err)
		}
	}
	if out, _ := cluster.Kubectl("-n", n, "get", "networkpolicies", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("refused policies were stored: %q", out)
	}
	apply(t, n, policy("unmatched-name", "{podSelector: {}}", "no-such-port"))
}
