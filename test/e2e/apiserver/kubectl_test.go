package apiserver_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// ns creates a namespace for one test and deletes it afterwards.
func ns(t *testing.T, name string) string {
	t.Helper()
	cluster.MustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "namespace", name, "--wait=false") })
	return name
}

func jsonpath(t *testing.T, path string, args ...string) string {
	t.Helper()
	return cluster.MustKubectl(t, append(args, "-o", "jsonpath="+path)...)
}

func TestObjectLifecycle(t *testing.T) {
	n := ns(t, "shop")
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "web", "--image=skiff.local/toolbox:1", "--replicas=2")
	if got := jsonpath(t, "{.spec.replicas}", "-n", n, "get", "deploy", "web"); got != "2" {
		t.Fatalf("replicas = %q, want 2", got)
	}
	out := cluster.MustKubectl(t, "-n", n, "get", "deploy", "web")
	for _, col := range []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "web", "0/2"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get deploy output lacks %q:\n%s", col, out)
		}
	}
	if out := cluster.MustKubectl(t, "-n", n, "describe", "deploy", "web"); !strings.Contains(out, "RollingUpdateStrategy:  25% max unavailable, 25% max surge") {
		t.Errorf("describe lacks the default strategy:\n%s", out)
	}
	cluster.MustKubectl(t, "-n", n, "label", "deploy", "web", "tier=front")
	cluster.MustKubectl(t, "-n", n, "annotate", "deploy", "web", "owner=team-a")
	cluster.MustKubectl(t, "-n", n, "patch", "deploy", "web", "-p", `{"spec":{"replicas":3}}`)
	cluster.MustKubectl(t, "-n", n, "patch", "deploy", "web", "--type=merge", "-p", `{"metadata":{"labels":{"merged":"yes"}}}`)
	cluster.MustKubectl(t, "-n", n, "patch", "deploy", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/minReadySeconds","value":5}]`)
	got := jsonpath(t, "{.metadata.labels.tier},{.metadata.annotations.owner},{.spec.replicas},{.metadata.labels.merged},{.spec.minReadySeconds}", "-n", n, "get", "deploy", "web")
	if got != "front,team-a,3,yes,5" {
		t.Fatalf("after label/annotate/patches: %q", got)
	}
	cluster.MustKubectl(t, "-n", n, "scale", "deploy", "web", "--replicas=5", "--current-replicas=3")
	if _, err := cluster.Kubectl("-n", n, "scale", "deploy", "web", "--replicas=7", "--current-replicas=3"); err == nil {
		t.Fatal("scale with a wrong --current-replicas succeeded")
	}
	if got := jsonpath(t, "{.spec.replicas}", "-n", n, "get", "deploy", "web"); got != "5" {
		t.Fatalf("replicas after scale = %q, want 5", got)
	}
	// kubectl edit through an editor that rewrites the file.
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/minReadySeconds: 5/minReadySeconds: 9/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	edit := exec.Command(framework.Kubectl, "-n", n, "edit", "deploy", "web")
	edit.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "KUBE_EDITOR="+editor)
	if out, err := edit.CombinedOutput(); err != nil {
		t.Fatalf("kubectl edit: %v\n%s", err, out)
	}
	if got := jsonpath(t, "{.spec.minReadySeconds}", "-n", n, "get", "deploy", "web"); got != "9" {
		t.Fatalf("minReadySeconds after edit = %q, want 9", got)
	}
	cluster.MustKubectl(t, "-n", n, "delete", "deploy", "web")
	if _, err := cluster.Kubectl("-n", n, "get", "deploy", "web"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	n := ns(t, "apply")
	file := filepath.Join("..", "testdata", "seeds", "deployment-rolling.yaml")
	cluster.MustKubectl(t, "-n", n, "apply", "-f", file)
	// The generation, not the resourceVersion: the deployment controller writes the
	// status at any moment, but only a change of the spec moves the generation.
	gen1 := jsonpath(t, "{.metadata.generation}", "-n", n, "get", "deploy", "nginx-deployment")
	out := cluster.MustKubectl(t, "-n", n, "apply", "-f", file)
	if !strings.Contains(out, "unchanged") {
		t.Errorf("second apply did not report unchanged: %s", out)
	}
	if gen2 := jsonpath(t, "{.metadata.generation}", "-n", n, "get", "deploy", "nginx-deployment"); gen2 != gen1 {
		t.Fatalf("second apply changed the generation %s -> %s", gen1, gen2)
	}
	// Server-side apply, twice, with its own field manager.
	cluster.MustKubectl(t, "-n", n, "apply", "--server-side", "-f", filepath.Join("..", "testdata", "seeds", "replicaset-example.yaml"))
	cluster.MustKubectl(t, "-n", n, "apply", "--server-side", "-f", filepath.Join("..", "testdata", "seeds", "replicaset-example.yaml"))
	managers := jsonpath(t, "{.metadata.managedFields[*].manager}", "-n", n, "get", "rs", "example-replicaset", "--show-managed-fields")
	if !strings.Contains(managers, "kubectl") {
		t.Fatalf("managedFields managers = %q, want kubectl", managers)
	}
	// A conflicting apply by another manager is refused, and --force-conflicts wins.
	conflict := `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"example-replicaset"},"spec":{"replicas":4}}`
	if _, err := cluster.KubectlStdin(conflict, "-n", n, "apply", "--server-side", "--field-manager=other", "-f", "-"); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("conflicting apply: %v", err)
	}
	if _, err := cluster.KubectlStdin(conflict, "-n", n, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if got := jsonpath(t, "{.spec.replicas}", "-n", n, "get", "rs", "example-replicaset"); got != "4" {
		t.Fatalf("replicas after forced apply = %q, want 4", got)
	}
}

func TestWatchStreams(t *testing.T) {
	n := ns(t, "watch")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.Kubectl, "-n", n, "get", "configmaps", "-w", "--output-watch-events")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	time.Sleep(time.Second) // let the watch start
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "streamed", "--from-literal=a=b")
	cluster.MustKubectl(t, "-n", n, "label", "configmap", "streamed", "x=y")
	cluster.MustKubectl(t, "-n", n, "delete", "configmap", "streamed")
	want := []string{"ADDED", "MODIFIED", "DELETED"}
	for len(want) > 0 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended early; still waiting for %v", want)
			}
			if strings.Contains(l, "streamed") && strings.HasPrefix(strings.TrimSpace(l), want[0]) {
				want = want[1:]
			}
		case <-ctx.Done():
			t.Fatalf("watch did not stream %v", want)
		}
	}
}

func TestDiscoveryAndExplain(t *testing.T) {
	out := cluster.MustKubectl(t, "api-resources")
	for _, row := range []string{"deployments   deploy", "horizontalpodautoscalers   hpa", "poddisruptionbudgets   pdb", "networkpolicies   netpol", "cronjobs   cj"} {
		fields := strings.Fields(row)
		if !containsRow(out, fields) {
			t.Errorf("api-resources lacks %v", fields)
		}
	}
	out = cluster.MustKubectl(t, "explain", "deployment.spec.strategy")
	if !strings.Contains(out, "rollingUpdate") || !strings.Contains(out, "Recreate") {
		t.Errorf("explain deployment.spec.strategy:\n%s", out)
	}
	out = cluster.MustKubectl(t, "get", "all", "-A")
	if !strings.Contains(out, "service/kubernetes") {
		t.Errorf("get all -A lacks the kubernetes service:\n%s", out)
	}
	if out := cluster.MustKubectl(t, "get", "ns"); !containsRow(out, []string{"kube-system", "Active"}) {
		t.Errorf("namespaces:\n%s", out)
	}
	if out := cluster.MustKubectl(t, "version"); !strings.Contains(out, "Server Version: v1.37") {
		t.Errorf("version:\n%s", out)
	}
}

func containsRow(table string, fields []string) bool {
	for _, line := range strings.Split(table, "\n") {
		got := strings.Fields(line)
		if len(got) >= len(fields) && strings.Join(got[:len(fields)], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func TestInvalidObjectsAreRefusedWhole(t *testing.T) {
	n := ns(t, "invalid")
	bad := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`
	_, err := cluster.KubectlStdin(bad, "-n", n, "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), `metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`) {
		t.Fatalf("bad name: %v", err)
	}
	noContainers := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"empty"},"spec":{"containers":[]}}`
	_, err = cluster.KubectlStdin(noContainers, "-n", n, "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "spec.containers: Required value") {
		t.Fatalf("pod without containers: %v", err)
	}
	unknown := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"dta":{"a":"b"}}`
	_, err = cluster.KubectlStdin(unknown, "-n", n, "create", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), `unknown field "dta"`) {
		t.Fatalf("unknown field: %v", err)
	}
	if out := cluster.MustKubectl(t, "-n", n, "get", "pods,configmaps", "-o", "name"); strings.Contains(out, "empty") || strings.Contains(out, "strict") {
		t.Fatalf("rejected objects were stored: %s", out)
	}
	_, err = cluster.Kubectl("create", "configmap", "x", "-n", "does-not-exist")
	if err == nil || !strings.Contains(err.Error(), `namespaces "does-not-exist" not found`) {
		t.Fatalf("create in a missing namespace: %v", err)
	}
}

func TestServiceAllocation(t *testing.T) {
	n := ns(t, "svc")
	cluster.MustKubectl(t, "-n", n, "create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080")
	got := jsonpath(t, "{.spec.clusterIP} {.spec.ports[0].nodePort}", "-n", n, "get", "svc", "web")
	var ip string
	var port int
	if _, err := fmt.Sscan(got, &ip, &port); err != nil || !strings.HasPrefix(ip, "10.43.") || port != 30080 {
		t.Fatalf("clusterIP/nodePort = %q", got)
	}
	_, err := cluster.Kubectl("-n", n, "create", "service", "nodeport", "web2", "--tcp=80:8080", "--node-port=30080")
	if err == nil || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Fatalf("duplicate nodePort: %v", err)
	}
	clash := fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"clash"},"spec":{"clusterIP":%q,"ports":[{"port":80}]}}`, ip)
	if _, err := cluster.KubectlStdin(clash, "-n", n, "create", "-f", "-"); err == nil || !strings.Contains(err.Error(), "already allocated") {
		t.Fatalf("duplicate clusterIP: %v", err)
	}
	// Deleting frees the port for someone else.
	cluster.MustKubectl(t, "-n", n, "delete", "svc", "web")
	cluster.MustKubectl(t, "-n", n, "create", "service", "nodeport", "web3", "--tcp=80:8080", "--node-port=30080")
}

func TestNamespaceDeletionRemovesEverything(t *testing.T) {
	n := "doomed"
	cluster.MustKubectl(t, "create", "namespace", n)
	if out := cluster.MustKubectl(t, "get", "namespace", n, "-o", "name"); strings.TrimSpace(out) != "namespace/"+n {
		t.Fatalf("get namespace by name: %q", out)
	}
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "c1", "--from-literal=a=b")
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "d1", "--image=skiff.local/toolbox:1")
	cluster.MustKubectl(t, "-n", n, "create", "service", "clusterip", "s1", "--tcp=80:80")
	cluster.MustKubectl(t, "delete", "namespace", n, "--timeout=90s")
	if _, err := cluster.Kubectl("get", "namespace", n); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("namespace still there after delete: %v", err)
	}
}
