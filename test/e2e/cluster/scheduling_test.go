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

// TestStorageCapacityGuidesScheduling: a claim that a driver with storageCapacity
// is to provision keeps its pod off nodes for which the driver reports too little
// room, and the pod is placed once a node reports enough.
func TestStorageCapacityGuidesScheduling(t *testing.T) {
	n := ns(t, "capacity")
	const driver = "capacity.e2e.skiff.dev"
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "storageclass", "e2e-capacity", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "csidriver", driver, "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "csinode", "worker-0", "worker-1", "worker-2", "special-0", "--ignore-not-found")
	})
	manifest := `apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: ` + driver + `}
spec: {attachRequired: false, storageCapacity: true}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-capacity}
provisioner: ` + driver + `
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: worker-1-small, namespace: ` + n + `}
storageClassName: e2e-capacity
nodeTopology: {matchLabels: {kubernetes.io/hostname: worker-1}}
capacity: 1Gi
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ` + n + `}
spec:
  storageClassName: e2e-capacity
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: roomy, namespace: ` + n + `}
spec:
  containers: [{name: c, image: skiff.local/toolbox:1}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
`
	// Every node has the driver registered, so only capacity can keep the pod off.
	for _, node := range []string{"worker-0", "worker-1", "worker-2", "special-0"} {
		manifest += "---\napiVersion: storage.k8s.io/v1\nkind: CSINode\nmetadata: {name: " + node + "}\nspec: {drivers: [{name: " + driver + ", nodeID: " + node + "}]}\n"
	}
	out, err := cluster.KubectlStdin(manifest, "apply", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("apply warned although CSIStorageCapacity now acts:\n%s", out)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		ev := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "involvedObject.name=roomy,reason=FailedScheduling", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(ev, "did not have enough free storage") {
			return fmt.Errorf("no FailedScheduling event naming the storage capacity yet: %q", ev)
		}
		return nil
	})
	if node := jsonpath(t, "{.spec.nodeName}", "-n", n, "get", "pod", "roomy"); node != "" {
		t.Fatalf("pod placed on %s, where no driver reported room for 5Gi", node)
	}
	if why, err := cluster.Skiff("why", "roomy", "-n", n, "--kubeconfig", cluster.Kubeconfig); err != nil || !strings.Contains(why, "did not have enough free storage") {
		t.Errorf("skiff why roomy: %v\n%s", err, why)
	}
	// worker-2 reports room, with no volume over 8Gi: the pod goes there and its
	// claim learns the node, for the driver to provision on.
	if _, err := cluster.KubectlStdin(`apiVersion: storage.k8s.io/v1
kind: CSIStorageCapacity
metadata: {name: worker-2-roomy, namespace: `+n+`}
storageClassName: e2e-capacity
nodeTopology: {matchLabels: {kubernetes.io/hostname: worker-2}}
capacity: 100Gi
maximumVolumeSize: 8Gi
`, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitJSON(t, 30*time.Second, "{.spec.nodeName}", "worker-2", "-n", n, "get", "pod", "roomy")
	if sel := jsonpath(t, `{.metadata.annotations.volume\.kubernetes\.io/selected-node}`, "-n", n, "get", "pvc", "data"); sel != "worker-2" {
		t.Errorf("claim's selected node = %q, want worker-2", sel)
	}
}
