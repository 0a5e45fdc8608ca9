package cluster_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

func ns(t *testing.T, name string) string {
	t.Helper()
	cluster.MustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "namespace", name, "--wait=false") })
	return name
}

func nodeOf(t *testing.T, n, pod string) string {
	t.Helper()
	var node string
	framework.Eventually(t, 30*time.Second, func() error {
		node, _ = cluster.Kubectl("-n", n, "get", "pod", pod, "-o", "jsonpath={.spec.nodeName}")
		if node == "" {
			return fmt.Errorf("pod %s not scheduled", pod)
		}
		return nil
	})
	return node
}

const seedPods = `
apiVersion: v1
kind: Pod
metadata: {name: ssd-pod}
spec:
  nodeSelector: {disktype: ssd}
  containers: [{name: c, image: skiff.local/toolbox:1}]
---
# The seed's node affinity example (its value quoted: an unquoted true is a YAML bool).
apiVersion: v1
kind: Pod
metadata: {name: affinity-pod}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: example
            operator: In
            values:
            - "true"
  tolerations:
  - {key: example-key, operator: Exists, effect: NoSchedule}
  containers: [{name: c, image: skiff.local/toolbox:1}]
---
# The seed's toleration example.
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels: {env: test}
spec:
  nodeSelector: {example: "true"}
  containers:
  - name: nginx
    image: skiff.local/toolbox:1
    imagePullPolicy: IfNotPresent
  tolerations:
  - key: "example-key"
    operator: "Exists"
    effect: "NoSchedule"
`

func TestSeedSchedulingExamples(t *testing.T) {
	n := ns(t, "sched")
	if _, err := cluster.KubectlStdin(seedPods, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if node := nodeOf(t, n, "ssd-pod"); !strings.HasPrefix(node, "worker-") {
		t.Errorf("nodeSelector disktype=ssd pod on %s", node)
	}
	if node := nodeOf(t, n, "affinity-pod"); node != "special-0" {
		t.Errorf("node affinity example=true pod on %s, want special-0", node)
	}
	if node := nodeOf(t, n, "nginx"); node != "special-0" {
		t.Errorf("tolerating pod on %s, want the tainted special-0", node)
	}
	// Without the toleration nothing lands on the tainted node.
	cluster.MustKubectl(t, "-n", n, "run", "plain", "--image=skiff.local/toolbox:1", "--overrides", `{"spec":{"nodeSelector":{"example":"true"}}}`)
	framework.Eventually(t, 30*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "describe", "pod", "plain")
		if !strings.Contains(out, "FailedScheduling") || !strings.Contains(out, "0/4 nodes are available") ||
			!strings.Contains(out, "untolerated taint {example-key: true}") || !strings.Contains(out, "didn't match Pod's node affinity/selector") {
			return fmt.Errorf("describe pod plain lacks the reasons:\n%s", out)
		}
		return nil
	})
}

func TestAntiAffinitySpreadsReplicasAndExplainsTheRest(t *testing.T) {
	n := ns(t, "anti")
	manifest := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: example}
spec:
  replicas: 4
  selector: {matchLabels: {app: example}}
  template:
    metadata: {labels: {app: example}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions:
              - key: app
                operator: In
                values:
                - example
            topologyKey: "kubernetes.io/hostname"
      containers: [{name: c, image: skiff.local/toolbox:1}]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	// Three workers take one replica each; the tainted node repels the fourth.
	var out string
	framework.Eventually(t, 60*time.Second, func() error {
		out, _ = cluster.Kubectl("-n", n, "get", "pods", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase", "--no-headers")
		nodes := map[string]int{}
		pending := 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && f[1] != "<none>" {
				nodes[f[1]]++
			} else {
				pending++
			}
		}
		if len(nodes) != 3 || pending != 1 {
			return fmt.Errorf("want 3 pods on 3 distinct nodes and 1 Pending:\n%s", out)
		}
		for node, c := range nodes {
			if c != 1 || !strings.HasPrefix(node, "worker-") {
				return fmt.Errorf("node %s has %d replicas:\n%s", node, c, out)
			}
		}
		return nil
	})
	var pending string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[1] == "<none>" {
			pending = f[0]
		}
	}
	desc := cluster.MustKubectl(t, "-n", n, "describe", "pod", pending)
	want := "0/4 nodes are available: 3 node(s) didn't match pod anti-affinity rules, 1 node(s) had untolerated taint {example-key: true}."
	if !strings.Contains(desc, want) {
		t.Fatalf("describe pod %s lacks %q:\n%s", pending, want, desc)
	}
	// skiff why names each node and the rule that rejects it.
	why, err := cluster.Skiff("why", "-n", n, pending)
	if err != nil || !strings.Contains(why, "special-0: ") || !strings.Contains(why, "worker-0: ") || !strings.Contains(why, "anti-affinity") {
		t.Fatalf("skiff why %s: %v\n%s", pending, err, why)
	}
}

// TestWhyNamesAnUnboundClaim: a pod waiting for a claim that nothing binds is
// explained by the claim, with flags after the pod's name, never as "fits".
func TestWhyNamesAnUnboundClaim(t *testing.T) {
	n := ns(t, "why-claim")
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "storageclass", "why-manual", "--ignore-not-found") })
	if _, err := cluster.KubectlStdin(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: why-manual}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: `+n+`}
spec:
  storageClassName: why-manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: waits, namespace: `+n+`}
spec:
  containers: [{name: c, image: skiff.local/toolbox:1}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	why, err := cluster.Skiff("why", "waits", "-n", n, "--kubeconfig", cluster.Kubeconfig)
	if err != nil || !strings.Contains(why, "unbound immediate PersistentVolumeClaims") || strings.Contains(why, "fits") {
		t.Fatalf("skiff why waits: %v\n%s", err, why)
	}
}
