package apiserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// helmVersion is the Helm 3 release the test builds (with its own go.mod, so its
// k8s.io modules do not touch skiff's).
const helmVersion = "v3.21.4"

// helmBinary builds Helm once per machine into the user cache.
func helmBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "skiff-helm-"+helmVersion)
	bin := filepath.Join(dir, "helm")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		framework.Require(t, false, fmt.Sprintf("helm %s (go install failed: %v: %s)", helmVersion, err, out))
	}
	return bin
}

func helm(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHelmChartWithCRDs: Helm installs a chart's crds/ folder first, then the
// custom objects of its templates; upgrades change them; uninstalling removes the
// objects and leaves the CRD, as Helm does.
func TestHelmChartWithCRDs(t *testing.T) {
	bin := helmBinary(t)
	n := ns(t, "helm")
	chart := filepath.Join(framework.RepoRoot(), "test/e2e/apiserver/testdata/gadgets-chart")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "crd", "gadgets.example.org", "--ignore-not-found", "--wait=false")
	})
	helm(t, bin, "install", "demo", chart, "-n", n, "--wait", "--timeout", "60s")
	if got := jsonpath(t, "{.spec.size},{.spec.replicas}", "-n", n, "get", "gadget", "demo-gadget"); got != "small,1" {
		t.Errorf("after install: %q", got)
	}
	helm(t, bin, "upgrade", "demo", chart, "-n", n, "--set", "size=large,replicas=3")
	if got := jsonpath(t, "{.spec.size},{.spec.replicas}", "-n", n, "get", "gadget", "demo-gadget"); got != "large,3" {
		t.Errorf("after upgrade: %q", got)
	}
	contains(t, helm(t, bin, "list", "-n", n), "demo", "deployed")
	helm(t, bin, "uninstall", "demo", "-n", n, "--wait", "--timeout", "60s")
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "gadgets", "-o", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			return fmt.Errorf("gadgets after uninstall: %q %v", out, err)
		}
		return nil
	})
	cluster.MustKubectl(t, "get", "crd", "gadgets.example.org")
}
