package apiserver_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	certutil "k8s.io/client-go/util/cert"

	"skiff/test/e2e/framework"
)

// kubectlVerbose runs kubectl -v=8 and returns what it printed on both streams:
// the response headers are in its log.
func kubectlVerbose(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(framework.Kubectl, append(args, "-v=8")...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// header finds a response header in kubectl's -v=8 log.
func header(log, name string) string {
	for _, line := range strings.Split(log, "\n") {
		if _, after, ok := strings.Cut(strings.ToLower(line), strings.ToLower(name)+":"); ok {
			return strings.TrimSpace(after)
		}
	}
	return ""
}

// holdingWebhook is a validating admission webhook that keeps every request it
// gets until release is closed: requests waiting on it keep their seats.
type holdingWebhook struct {
	held    atomic.Int32
	release chan struct{}
}

func (h *holdingWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	h.held.Add(1)
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	_ = json.NewEncoder(w).Encode(review)
}

// startHoldingWebhook registers h for configmap creations in namespace n.
func startHoldingWebhook(t *testing.T, n string, h *holdingWebhook) {
	t.Helper()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = l
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	name := "hold-" + n
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found") })
	kubectlApply(t, fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: %[1]s}
webhooks:
- name: hold.skiff.test
  clientConfig: {url: "https://%[2]s/", caBundle: %[3]s}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %[4]s}}
  failurePolicy: Ignore
  sideEffects: None
  timeoutSeconds: 30
  admissionReviewVersions: [v1]
`, name, l.Addr(), base64.StdEncoding.EncodeToString(certPEM), n))
}

// TestPriorityAndFairness: the bootstrap FlowSchemas and priority levels are listed
// with their status, every response names its FlowSchema and priority level, and
// a FlowSchema sending a service account to a priority level of a few seats without
// queues gets that account's requests beyond those seats refused with 429, while
// the admin (exempt) is served.
func TestPriorityAndFairness(t *testing.T) {
	var out string
	framework.Eventually(t, 30*time.Second, func() error {
		var err error
		out, err = cluster.Kubectl("get", "flowschemas,prioritylevelconfigurations")
		if err != nil {
			return err
		}
		for _, row := range [][]string{{"flowschema.flowcontrol.apiserver.k8s.io/exempt", "exempt", "1", "*"},
			{"flowschema.flowcontrol.apiserver.k8s.io/system-nodes", "system", "500", "ByUser"},
			{"flowschema.flowcontrol.apiserver.k8s.io/global-default", "global-default", "9900", "ByUser"},
			{"prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/catch-all", "Limited", "5"},
			{"prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/workload-low", "Limited", "100", "128", "6", "50"}} {
			if !containsRow(out, row) {
				return fmt.Errorf("no row %v in\n%s", row, out)
			}
		}
		// MissingPL, the last column, is the config controller's Dangling condition.
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); strings.HasPrefix(line, "flowschema") && f[len(f)-1] != "False" {
				return fmt.Errorf("FlowSchema row %q: MissingPL is not False", line)
			}
		}
		return nil
	})
	t.Logf("kubectl get flowschemas,prioritylevelconfigurations:\n%s", out)
	exemptUID := strings.TrimSpace(cluster.MustKubectl(t, "get", "flowschema", "exempt", "-o", "jsonpath={.metadata.uid}"))
	framework.Eventually(t, 30*time.Second, func() error {
		log := kubectlVerbose(t, "get", "--raw", "/api")
		if got := header(log, "X-Kubernetes-PF-FlowSchema-UID"); got != exemptUID || header(log, "X-Kubernetes-PF-PriorityLevel-UID") == "" {
			return fmt.Errorf("FlowSchema UID %q, want exempt's %q, in:\n%s", got, exemptUID, log)
		}
		return nil
	})

	n := ns(t, "apf")
	cluster.MustKubectl(t, "-n", n, "create", "serviceaccount", "greedy")
	cluster.MustKubectl(t, "-n", n, "create", "rolebinding", "greedy", "--clusterrole=edit", "--serviceaccount="+n+":greedy")
	token := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "create", "token", "greedy"))
	server := strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	as := func(args ...string) (string, error) {
		return cluster.Kubectl(append([]string{"--kubeconfig=/dev/null", "--server=" + server, "--insecure-skip-tls-verify", "--token=" + token, "-n", n}, args...)...)
	}
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "flowschema", n, "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "prioritylevelconfiguration", n, "--ignore-not-found")
	})
	kubectlApply(t, fmt.Sprintf(`apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: %[1]s}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    borrowingLimitPercent: 0
    limitResponse: {type: Reject}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: %[1]s}
spec:
  priorityLevelConfiguration: {name: %[1]s}
  matchingPrecedence: 100
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {name: greedy, namespace: %[1]s}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}]
    nonResourceRules: [{verbs: ["*"], nonResourceURLs: ["*"]}]
`, n))
	schemaUID := strings.TrimSpace(cluster.MustKubectl(t, "get", "flowschema", n, "-o", "jsonpath={.metadata.uid}"))
	framework.Eventually(t, 30*time.Second, func() error {
		cmd := exec.Command(framework.Kubectl, "--kubeconfig=/dev/null", "--server="+server, "--insecure-skip-tls-verify", "--token="+token, "get", "--raw", "/api", "-v=8")
		log, _ := cmd.CombinedOutput()
		if got := header(string(log), "X-Kubernetes-PF-FlowSchema-UID"); got != schemaUID {
			return fmt.Errorf("FlowSchema UID %q, want %q", got, schemaUID)
		}
		return nil
	})

	// The account's creations wait in a webhook, holding its level's few seats.
	hold := &holdingWebhook{release: make(chan struct{})}
	startHoldingWebhook(t, n, hold)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	released := sync.OnceFunc(func() { close(hold.release) })
	t.Cleanup(released)
	seats := levelSeats(t, n)
	for i := range seats + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = as("create", "configmap", fmt.Sprintf("held-%d", i))
		}()
	}
	framework.Eventually(t, 30*time.Second, func() error {
		if got := hold.held.Load(); int(got) < seats {
			return fmt.Errorf("%d held, the level has %d seats", got, seats)
		}
		return nil
	})
	_, err := as("get", "configmaps")
	if err == nil || !strings.Contains(err.Error(), "TooManyRequests") {
		t.Fatalf("the service account's read while its seats are taken: %v, want 429 (TooManyRequests)", err)
	}
	_, refusal, _ := strings.Cut(err.Error(), "Error from server")
	t.Logf("the service account's kubectl get, with %d of its requests holding its seats: Error from server%s", hold.held.Load(), refusal)
	if _, err := cluster.Kubectl("-n", n, "get", "configmaps"); err != nil {
		t.Fatalf("the admin's read while the service account is refused: %v", err)
	}
	// The library's series are on the server's /metrics.
	metrics := cluster.MustKubectl(t, "get", "--raw", "/metrics")
	if want := `apiserver_flowcontrol_rejected_requests_total{flow_schema="` + n + `"`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics has no %s...}", want)
	}
	released()
	wg.Wait()
	if _, err := as("get", "configmaps"); err != nil {
		t.Fatalf("the service account's read once its seats are free: %v", err)
	}
}

// levelSeats reads the seats of priority level pl from the server's metrics.
func levelSeats(t *testing.T, pl string) int {
	t.Helper()
	prefix := `apiserver_flowcontrol_current_limit_seats{priority_level="` + pl + `"} `
	var seats int
	framework.Eventually(t, 30*time.Second, func() error {
		for _, line := range strings.Split(cluster.MustKubectl(t, "get", "--raw", "/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				if _, err := fmt.Sscan(v, &seats); err == nil && seats > 0 {
					return nil
				}
			}
		}
		return fmt.Errorf("no %s... on /metrics", prefix)
	})
	return seats
}
