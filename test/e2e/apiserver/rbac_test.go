package apiserver_test

import (
	"strings"
	"testing"
)

// TestRBACAndServiceAccountTokens: a service account bound to the view role can read
// but not write, through a token from `kubectl create token`.
func TestRBACAndServiceAccountTokens(t *testing.T) {
	n := ns(t, "team")
	cluster.MustKubectl(t, "-n", n, "create", "serviceaccount", "viewer")
	cluster.MustKubectl(t, "-n", n, "create", "rolebinding", "viewer", "--clusterrole=view", "--serviceaccount="+n+":viewer")
	token := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "create", "token", "viewer"))
	server := strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	as := func(args ...string) (string, error) {
		return cluster.Kubectl(append([]string{"--kubeconfig=/dev/null", "--server=" + server, "--insecure-skip-tls-verify", "--token=" + token}, args...)...)
	}
	out, err := as("auth", "whoami")
	if err != nil || !strings.Contains(out, "system:serviceaccount:"+n+":viewer") {
		t.Fatalf("whoami with the token: %v\n%s", err, out)
	}
	if _, err := as("-n", n, "get", "pods"); err != nil {
		t.Fatalf("viewer cannot list pods: %v", err)
	}
	_, err = as("-n", n, "create", "configmap", "nope")
	if err == nil || !strings.Contains(err.Error(), `cannot create resource "configmaps" in API group "" in the namespace "`+n+`"`) {
		t.Fatalf("viewer created a configmap, or the message is unclear: %v", err)
	}
	if out, _ := cluster.Kubectl("auth", "can-i", "delete", "deployments", "-n", n, "--as=system:serviceaccount:"+n+":viewer"); strings.TrimSpace(out) != "no" {
		t.Fatalf("can-i delete deployments as viewer = %q, want no", out)
	}
	if out := cluster.MustKubectl(t, "auth", "can-i", "list", "deployments", "-n", n, "--as=system:serviceaccount:"+n+":viewer"); strings.TrimSpace(out) != "yes" {
		t.Fatalf("can-i list deployments as viewer = %q, want yes", out)
	}
	// Deleting the service account revokes its tokens.
	cluster.MustKubectl(t, "-n", n, "delete", "serviceaccount", "viewer")
	if _, err := as("-n", n, "get", "pods"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("token of a deleted service account still works: %v", err)
	}
}
