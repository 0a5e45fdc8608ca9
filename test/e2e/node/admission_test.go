package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// webhookTLS makes a CA and a serving certificate for the Service name a webhook is
// called by (NAME.NAMESPACE.svc), and returns the directory holding tls.crt, tls.key
// and the CA in base64, ready for a caBundle.
func webhookTLS(t *testing.T, host string) (dir, caBundle string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook-e2e-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	dir = t.TempDir()
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tls.crt", "CERTIFICATE", srvDER)
	write("tls.key", "EC PRIVATE KEY", keyDER)
	return dir, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
}

// startWebhookPod runs `toolbox webhook` behind Service n/webhook, with its
// certificate from a Secret, and returns the caBundle that trusts it.
func startWebhookPod(t *testing.T, n string) string {
	t.Helper()
	dir, caBundle := webhookTLS(t, "webhook."+n+".svc")
	cluster.MustKubectl(t, "-n", n, "create", "secret", "tls", "webhook-tls", "--cert", filepath.Join(dir, "tls.crt"), "--key", filepath.Join(dir, "tls.key"))
	apply(t, n, `apiVersion: apps/v1
kind: Deployment
metadata: {name: webhook}
spec:
  selector: {matchLabels: {app: webhook}}
  template:
    metadata: {labels: {app: webhook}}
    spec:
      containers:
      - name: webhook
        image: `+toolbox+`
        command: ["/toolbox", "webhook", "--port", "8443", "--cert", "/tls/tls.crt", "--key", "/tls/tls.key"]
        readinessProbe: {httpGet: {path: /healthz, port: 8443, scheme: HTTPS}, periodSeconds: 1}
        volumeMounts: [{name: tls, mountPath: /tls}]
      volumes: [{name: tls, secret: {secretName: webhook-tls}}]
---
apiVersion: v1
kind: Service
metadata: {name: webhook}
spec:
  selector: {app: webhook}
  ports: [{port: 443, targetPort: 8443}]
`)
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deployment/webhook", "--timeout=90s")
	return caBundle
}

// cleanupCluster deletes a cluster-scoped object when the test ends.
func cleanupCluster(t *testing.T, kind, name string) {
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", kind, name, "--ignore-not-found") })
}

// retryKubectl runs kubectl until check accepts the result: admission plugins see a
// new configuration once their informers do. The output holds stdout and stderr,
// where kubectl prints warnings and errors.
func retryKubectl(t *testing.T, check func(out string, err error) bool, args ...string) (string, error) {
	t.Helper()
	return retryKubectlStdin(t, "", check, args...)
}

func retryKubectlStdin(t *testing.T, stdin string, check func(out string, err error) bool, args ...string) (string, error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cmd := exec.Command(framework.Kubectl, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		if check(string(b), err) || time.Now().After(deadline) {
			return string(b), err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestAdmissionWebhooks: a mutating webhook pod labels every new pod in a labelled
// namespace; validating webhooks refuse what they should, and a broken webhook (down,
// hanging or answering garbage) refuses writes under failurePolicy Fail with a clear
// message and lets them through under Ignore, while the server keeps serving.
func TestAdmissionWebhooks(t *testing.T) {
	hooks := ns(t, "webhooks")
	caBundle := startWebhookPod(t, hooks)
	labelled := ns(t, "webhooked")
	cluster.MustKubectl(t, "label", "namespace", labelled, "webhook-e2e=on")
	plain := ns(t, "not-webhooked")

	cleanupCluster(t, "mutatingwebhookconfiguration", "e2e-label-pods")
	apply(t, "", `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: e2e-label-pods}
webhooks:
- name: label-pods.e2e.skiff.local
  clientConfig:
    service: {namespace: `+hooks+`, name: webhook, path: /mutate}
    caBundle: `+caBundle+`
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  namespaceSelector: {matchLabels: {webhook-e2e: "on"}}
  sideEffects: None
  admissionReviewVersions: [v1]
`)
	out, err := retryKubectl(t, func(out string, err error) bool { return err == nil && strings.Contains(out, "added label") },
		"-n", labelled, "run", "p1", "--image="+toolbox, "--restart=Never", "--", "/toolbox", "sleep", "infinity")
	if err != nil || !strings.Contains(out, "Warning: toolbox webhook added label mutated-by=toolbox") {
		t.Fatalf("kubectl run in the labelled namespace: %v\n%s", err, out)
	}
	if got := cluster.MustKubectl(t, "-n", labelled, "get", "pod", "p1", "-o", "jsonpath={.metadata.labels.mutated-by}"); got != "toolbox" {
		t.Errorf("pod in the labelled namespace: label mutated-by = %q, want toolbox", got)
	}
	cluster.MustKubectl(t, "-n", plain, "run", "p2", "--image="+toolbox, "--restart=Never", "--", "/toolbox", "sleep", "infinity")
	if got := cluster.MustKubectl(t, "-n", plain, "get", "pod", "p2", "-o", "jsonpath={.metadata.labels}"); strings.Contains(got, "mutated-by") {
		t.Errorf("pod in another namespace was mutated: %s", got)
	}

	// A validating webhook refuses ConfigMaps labelled forbidden=true, with its message.
	validating := func(name, service, path string, policy string, timeout int) {
		cleanupCluster(t, "validatingwebhookconfiguration", name)
		apply(t, "", fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: %s}
webhooks:
- name: %s.e2e.skiff.local
  clientConfig:
    service: {namespace: %s, name: %s, path: %s}
    caBundle: %s
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
  namespaceSelector: {matchLabels: {webhook-e2e: "on"}}
  failurePolicy: %s
  timeoutSeconds: %d
  sideEffects: None
  admissionReviewVersions: [v1]
`, name, name, hooks, service, path, caBundle, policy, timeout))
	}
	validating("e2e-deny", "webhook", "/validate", "Fail", 5)
	forbidden := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","labels":{"forbidden":"true"}}}`
	out, err = retryKubectlStdin(t, forbidden, func(_ string, err error) bool { return err != nil }, "-n", labelled, "create", "-f", "-")
	if err == nil || !strings.Contains(out, "toolbox webhook denies objects labelled forbidden=true") {
		t.Errorf("configmap labelled forbidden=true: %v\n%s", err, out)
	}
	if _, err := cluster.Kubectl("-n", labelled, "get", "configmap", "c1"); err == nil {
		t.Errorf("a refused configmap was stored")
	}
	cluster.MustKubectl(t, "-n", labelled, "create", "configmap", "c2", "--from-literal=a=b")
	cluster.MustKubectl(t, "delete", "validatingwebhookconfiguration", "e2e-deny")

	// Broken webhooks: a Service with no endpoints, one that hangs past its timeout,
	// one that answers garbage. Fail refuses with the reason; Ignore lets writes through.
	cluster.MustKubectl(t, "-n", hooks, "create", "service", "clusterip", "down", "--tcp=443:8443")
	for _, tc := range []struct{ name, service, path, want string }{
		{"e2e-down", "down", "/validate", `no endpoints available for service "down"`},
		{"e2e-hang", "webhook", "/hang", "context deadline exceeded"},
		{"e2e-garbage", "webhook", "/garbage", "failed calling webhook"},
	} {
		validating(tc.name, tc.service, tc.path, "Fail", 2)
		start := time.Now()
		out, err := retryKubectl(t, func(_ string, err error) bool { start = time.Now(); return err != nil },
			"-n", labelled, "create", "configmap", tc.name+"-fail", "--from-literal=a=b")
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s with failurePolicy Fail: %v\n%s\nwant an error with %q", tc.name, err, out, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: the refusal took %v; timeoutSeconds is 2", tc.name, d)
		}
		t.Logf("%s, failurePolicy Fail: %s", tc.name, strings.TrimSpace(out))
		cluster.MustKubectl(t, "patch", "validatingwebhookconfiguration", tc.name, "--type=json",
			"-p", `[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]`)
		if out, err := retryKubectl(t, func(_ string, err error) bool { return err == nil },
			"-n", labelled, "create", "configmap", tc.name+"-ignore", "--from-literal=a=b"); err != nil {
			t.Errorf("%s with failurePolicy Ignore: %v\n%s", tc.name, err, out)
		}
		cluster.MustKubectl(t, "delete", "validatingwebhookconfiguration", tc.name)
	}
	if out, err := cluster.Kubectl("get", "--raw", "/readyz"); err != nil || out != "ok" {
		t.Errorf("server after broken webhooks: readyz %q %v", out, err)
	}
}

// TestValidatingAdmissionPolicy: a CEL policy bound with Deny refuses a Deployment
// with more than 5 replicas, with the policy's message; a Warn binding only warns.
func TestValidatingAdmissionPolicy(t *testing.T) {
	n := ns(t, "policed")
	cluster.MustKubectl(t, "label", "namespace", n, "policy-e2e=on")
	cleanupCluster(t, "validatingadmissionpolicy", "e2e-max-replicas")
	cleanupCluster(t, "validatingadmissionpolicybinding", "e2e-max-replicas")
	apply(t, "", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: e2e-max-replicas}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}]
  validations:
  - expression: object.spec.replicas <= 5
    messageExpression: "'replicas must be at most 5, got ' + string(object.spec.replicas)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: e2e-max-replicas}
spec:
  policyName: e2e-max-replicas
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {policy-e2e: "on"}}
`)
	// Wait (with dry runs, which admission sees too) until the policy is in force.
	_, _ = retryKubectl(t, func(_ string, err error) bool { return err != nil },
		"-n", n, "create", "deployment", "big", "--image="+toolbox, "--replicas=6", "--dry-run=server")
	out, err := retryKubectl(t, func(string, error) bool { return true },
		"-n", n, "create", "deployment", "big", "--image="+toolbox, "--replicas=6")
	if err == nil || !strings.Contains(out, "replicas must be at most 5, got 6") {
		t.Fatalf("deployment with 6 replicas: %v\n%s", err, out)
	}
	t.Logf("kubectl create deployment big --replicas=6: %s", strings.TrimSpace(out))
	if _, err := cluster.Kubectl("-n", n, "get", "deployment", "big"); err == nil {
		t.Errorf("the refused deployment was stored")
	}
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "small", "--image="+toolbox, "--replicas=5")
	// The type checker finds a misspelt field and says so in the policy's status (this
	// policy has no binding: a policy is checked whether or not it is bound).
	cleanupCluster(t, "validatingadmissionpolicy", "e2e-typo")
	apply(t, "", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: e2e-typo}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}]
  validations: [{expression: object.spec.replicaz > 0}]
`)
	framework.Eventually(t, 20*time.Second, func() error {
		out, _ := cluster.Kubectl("get", "validatingadmissionpolicy", "e2e-typo", "-o", "jsonpath={.status.typeChecking.expressionWarnings}")
		if !strings.Contains(out, "replicaz") {
			return fmt.Errorf("status.typeChecking: %q", out)
		}
		return nil
	})
}

// metricsTakeover: metrics.k8s.io is skiff's own until an APIService hands
// v1beta1.metrics.k8s.io to a Service (here the webhook pod, which serves one
// resource, whoami): then requests and discovery are the backend's. Deleting the
// APIService gives metrics.k8s.io back to skiff.
func metricsTakeover(t *testing.T, n, caBundle string) {
	t.Helper()
	resources := func(want, not string) func() error {
		return func() error {
			out, err := cluster.Kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "name")
			if err != nil || !strings.Contains(out, want) || strings.Contains(out, not) {
				return fmt.Errorf("kubectl api-resources --api-group=metrics.k8s.io: %v\n%s", err, out)
			}
			return nil
		}
	}
	if err := resources("nodes.metrics.k8s.io", "whoami")(); err != nil {
		t.Fatalf("before any APIService: %v", err)
	}
	cleanupCluster(t, "apiservice", "v1beta1.metrics.k8s.io")
	apply(t, "", `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {namespace: `+n+`, name: webhook}
  caBundle: `+caBundle+`
  groupPriorityMinimum: 100
  versionPriority: 100
`)
	framework.Eventually(t, 20*time.Second, func() error {
		out, err := cluster.Kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/whoami")
		if err != nil || !strings.Contains(out, `"user":"admin"`) {
			return fmt.Errorf("whoami through metrics.k8s.io: %v %s", err, out)
		}
		return nil
	})
	framework.Eventually(t, 20*time.Second, resources("whoami.metrics.k8s.io", "nodes.metrics.k8s.io"))
	cluster.MustKubectl(t, "delete", "apiservice", "v1beta1.metrics.k8s.io")
	framework.Eventually(t, 20*time.Second, func() error {
		out, err := cluster.Kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
		if err != nil || !strings.Contains(out, "NodeMetricsList") {
			return fmt.Errorf("skiff's own metrics.k8s.io: %v %s", err, out)
		}
		return nil
	})
	framework.Eventually(t, 20*time.Second, resources("nodes.metrics.k8s.io", "whoami"))
}

// TestAPIService: an APIService hands echo.e2e.skiff.local/v1alpha1 to a pod; kubectl
// reaches it through the API server, which says who the user is in front-proxy
// headers under its own client certificate, and the APIService turns Available.
func TestAPIService(t *testing.T) {
	n := ns(t, "aggregated")
	caBundle := startWebhookPod(t, n)
	cleanupCluster(t, "apiservice", "v1alpha1.echo.e2e.skiff.local")
	apply(t, "", `apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.echo.e2e.skiff.local}
spec:
  group: echo.e2e.skiff.local
  version: v1alpha1
  service: {namespace: `+n+`, name: webhook}
  caBundle: `+caBundle+`
  groupPriorityMinimum: 1000
  versionPriority: 15
`)
	out, err := retryKubectl(t, func(out string, err error) bool { return err == nil },
		"get", "--raw", "/apis/echo.e2e.skiff.local/v1alpha1")
	if err != nil || !strings.Contains(out, `"groupVersion":"echo.e2e.skiff.local/v1alpha1"`) {
		t.Fatalf("kubectl get --raw /apis/echo.e2e.skiff.local/v1alpha1: %v\n%s", err, out)
	}
	out = cluster.MustKubectl(t, "get", "--raw", "/apis/echo.e2e.skiff.local/v1alpha1/whoami")
	for _, want := range []string{`"user":"admin"`, `"system:masters"`, `"clientCertificate":"front-proxy-client"`} {
		if !strings.Contains(out, want) {
			t.Errorf("whoami through the API server = %s, want %s", out, want)
		}
	}
	framework.Eventually(t, 30*time.Second, func() error {
		out, _ := cluster.Kubectl("get", "apiservice", "v1alpha1.echo.e2e.skiff.local")
		if !strings.Contains(out, "True") {
			return fmt.Errorf("kubectl get apiservice:\n%s", out)
		}
		return nil
	})
	// Discovery lists the backend's resources beside skiff's own.
	framework.Eventually(t, 20*time.Second, func() error {
		out, _ := cluster.Kubectl("api-resources", "--api-group=echo.e2e.skiff.local")
		if !strings.Contains(out, "whoami") {
			return fmt.Errorf("kubectl api-resources --api-group=echo.e2e.skiff.local:\n%s", out)
		}
		return nil
	})
	metricsTakeover(t, n, caBundle)
	// With its backend gone, the APIService says so and requests get a 503.
	cluster.MustKubectl(t, "-n", n, "scale", "deployment", "webhook", "--replicas=0")
	framework.Eventually(t, 60*time.Second, func() error {
		out, _ := cluster.Kubectl("get", "apiservice", "v1alpha1.echo.e2e.skiff.local", "-o", "jsonpath={.status.conditions[0].status}/{.status.conditions[0].reason}")
		if !strings.HasPrefix(out, "False/") {
			return fmt.Errorf("Available = %q", out)
		}
		return nil
	})
	if out, err := cluster.Kubectl("get", "--raw", "/apis/echo.e2e.skiff.local/v1alpha1"); err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Errorf("request with the backend gone: %v %s", err, out)
	}
}
