package apiserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestInPlaceResizeAgainstQuotaAndLimitRange: a resize through pods/resize is
// charged to the namespace's ResourceQuota, refused past it with Kubernetes'
// message, and held to the LimitRange as a new pod is.
func TestInPlaceResizeAgainstQuotaAndLimitRange(t *testing.T) {
	n := ns(t, "resize-quota")
	cluster.MustKubectl(t, "-n", n, "create", "quota", "q", "--hard=requests.cpu=1,limits.cpu=1")
	kubectlApply(t, `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: `+n+`}
spec:
  containers:
  - name: c
    image: skiff.local/toolbox:1
    resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
`)
	resize := func(cpu string) error {
		_, err := cluster.Kubectl("-n", n, "patch", "pod", "p", "--subresource=resize", "-p",
			fmt.Sprintf(`{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":%q},"limits":{"cpu":%q}}}]}}`, cpu, cpu))
		return err
	}
	want := "exceeded quota: q, requested: limits.cpu=1500m,requests.cpu=1500m, used: limits.cpu=500m,requests.cpu=500m, limited: limits.cpu=1,requests.cpu=1"
	if err := resize("2"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("resize past the quota: %v, want %q", err, want)
	}
	if err := resize("800m"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 20*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "quota", "q", "-o", `jsonpath={.status.used.requests\.cpu} {.status.used.limits\.cpu}`)
		if err != nil || out != "800m 800m" {
			return fmt.Errorf("quota used = %q (%v), want the resized 800m", out, err)
		}
		return nil
	})
	kubectlApply(t, `apiVersion: v1
kind: LimitRange
metadata: {name: lr, namespace: `+n+`}
spec:
  limits:
  - type: Container
    max: {cpu: 900m}
`)
	want = "maximum cpu usage per Container is 900m, but limit is 950m"
	if err := resize("950m"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("resize past the LimitRange: %v, want %q", err, want)
	}
	if got := jsonpath(t, "{.spec.containers[0].resources.limits.cpu}", "-n", n, "get", "pod", "p"); got != "800m" {
		t.Errorf("after the refused resizes the pod has cpu limit %s, want 800m", got)
	}
}
