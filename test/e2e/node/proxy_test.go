package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestProxyToPodsAndServices reaches a pod and a Service through the API server's
// proxy subresources, in each form Kubernetes accepts: a port number, a named container
// or service port, and a path with a query, for several methods.
func TestProxyToPodsAndServices(t *testing.T) {
	n := ns(t, "proxy")
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: ` + toolbox + `
    args: [/toolbox, serve, --port, "8080"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: api, port: 80, targetPort: http}]
`
	if out, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	running(t, n, "web")
	base := "/api/v1/namespaces/" + n
	for _, path := range []string{
		base + "/pods/web:8080/proxy/some/path?x=1",
		base + "/pods/http:web:http/proxy/some/path?x=1",
		base + "/services/web:api/proxy/some/path?x=1",
		base + "/services/web:80/proxy/some/path?x=1",
	} {
		framework.Eventually(t, 30*time.Second, func() error {
			out, err := cluster.Kubectl("get", "--raw", path)
			if err != nil {
				return fmt.Errorf("kubectl get --raw %s: %v: %s", path, err, out)
			}
			// kubectl asks for JSON, so the toolbox server answers in JSON.
			if !hasAll(out, `"hostname":"web"`, `"path":"/some/path"`, `"query":"x=1"`, `"method":"GET"`) {
				return fmt.Errorf("%s answered:\n%s", path, out)
			}
			return nil
		})
	}
	out, err := cluster.Kubectl("create", "--raw", base+"/pods/web:8080/proxy/posted", "-f", "/dev/null")
	if err != nil || !hasAll(out, `"method":"POST"`, `"path":"/posted"`) {
		t.Errorf("POST through the pod proxy: %v\n%s", err, out)
	}
	out, err = cluster.Kubectl("get", "--raw", base+"/pods/web:nope/proxy/")
	if err == nil || !strings.Contains(fmt.Sprint(err, out), `no container port named "nope"`) {
		t.Errorf("unknown port name: err=%v\n%s", err, out)
	}
}

func hasAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
